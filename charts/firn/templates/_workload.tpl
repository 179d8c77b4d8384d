{{/*
One Firn server component: Deployment, Service and (optionally) PodDisruptionBudget. Every
component has the same shape (one port, /healthz, /readyz, /metrics, SIGTERM drain), so the
per-component templates only say which app runs and which dependencies it gets.

Arguments (dict):
  root        the chart's root context ($)
  component   name used in resource names and labels (gateway, ..., all-in-one)
  key         its section in values (gateway, ..., allInOne)
  app         the component the image's launcher runs (node dist/server/main.js <app>)
  replicas    overrides <key>.replicas when non-zero (the all-in-one is always 1)
Every argument must be passed (lint --strict fails on a missing map key).
  s3          true = FIRN_STORAGE=s3 from storage.s3; false = local objects under the data dir
  nats        true = FIRN_NATS_URL/FIRN_NATS_TOKEN from nats
  env         list of setting groups ("firn.env.<group>" in _env.tpl) this app reads; the
              groups tokenStore, limits, retention, symbolizerCacheDir and scrape also mount
              their Secret, ConfigMap or cache volume (scrape with in-cluster pod discovery
              also switches to the scraper's ServiceAccount)
  dataClaim   PVC name for the data dir; empty = an emptyDir
  recreate    true = Recreate strategy (a single writer of a ReadWriteOnce volume)
  pdb         true = render a PodDisruptionBudget when podDisruptionBudget.enabled; also
              the default topology spread and the HorizontalPodAutoscaler option (scaled
              components only)
*/}}
{{- define "firn.workload" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $c := index $v .key -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- $name := include "firn.componentName" $ctx -}}
{{- $shutdownMs := int64 (default $v.shutdownTimeoutMs $c.shutdownTimeoutMs) -}}
{{- $grace := int64 (default $v.terminationGracePeriodSeconds $c.terminationGracePeriodSeconds) -}}
{{- $preStop := int64 $v.preStopSleepSeconds -}}
{{- if le (mul $grace 1000) (add $shutdownMs (mul $preStop 1000)) -}}
{{- fail (printf "%s: terminationGracePeriodSeconds (%d s) must exceed preStopSleepSeconds (%d s) + shutdownTimeoutMs (%d ms), or Kubernetes kills the pod before it has drained and flushed" .key $grace $preStop $shutdownMs) -}}
{{- end -}}
{{- $replicas := 1 -}}
{{- if .replicas }}{{ $replicas = int64 .replicas }}{{ else }}{{ $replicas = int64 $c.replicas }}{{ end -}}
{{- $envArgs := dict "root" $root "port" $c.port "shutdownMs" $shutdownMs "s3" .s3 "nats" .nats "groups" .env "extraEnv" $c.extraEnv -}}
{{- $tokens := and (has "tokenStore" .env) (eq (include "firn.tokensMounted" $root) "true") -}}
{{- $limits := has "limits" .env -}}
{{- $retention := and (has "retention" .env) (include "firn.legacyRetentionFile" $root) -}}
{{- $symCache := has "symbolizerCacheDir" .env -}}
{{- $scrape := and (has "scrape" .env) $v.scrape.enabled -}}
{{- $scrapeApi := and $scrape (include "firn.scrapeDiscovery" $root | fromJson).inCluster -}}
{{- $hpa := and .pdb $c.autoscaling.enabled -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "firn.labels" $ctx | nindent 4 }}
spec:
  {{- if not $hpa }}
  replicas: {{ $replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if .recreate }}
  strategy:
    type: Recreate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  {{- end }}
  selector:
    matchLabels:
      {{- include "firn.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "firn.labels" $ctx | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if $v.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $c.port | int64 | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- if and $tokens (not $v.auth.existingSecret) }}
        checksum/tokens: {{ toJson $v.auth.tokens | sha256sum }}
        {{- end }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- if $scrapeApi }}
      # In-cluster pod discovery for scraping: an API token of the ServiceAccount allowed to list pods.
      serviceAccountName: {{ include "firn.scraperServiceAccountName" $root }}
      automountServiceAccountToken: true
      {{- else }}
      serviceAccountName: {{ include "firn.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $grace }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "firn.image" $root | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          workingDir: {{ $v.image.workingDir }}
          # tini as PID 1 forwards SIGTERM (the server drains and flushes) and reaps the tools it
          # spawns; the image holds compiled JavaScript only (no TypeScript at start).
          command:
            - /usr/bin/tini
            - --
            - node
            - dist/server/main.js
            - {{ .app }}
          {{- with $c.extraArgs }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- include "firn.env" $envArgs | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $c.port | int64 }}
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- if gt $preStop 0 }}
          lifecycle:
            preStop:
              exec:
                # node, not sleep: the image is only promised to have node.
                command:
                  - node
                  - -e
                  - {{ printf "setTimeout(() => {}, %d)" (mul $preStop 1000) | quote }}
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            # The root filesystem is read-only; Node and the symbolizer's tools write scratch files here.
            - name: tmp
              mountPath: /tmp
            - name: data
              mountPath: {{ include "firn.dataDir" $root }}
            {{- if $tokens }}
            - name: tokens
              mountPath: {{ include "firn.tokensDir" $root }}
              readOnly: true
            {{- end }}
            {{- /* Whole-directory mounts, never subPath: the kubelet then swaps in a changed
            ConfigMap and the apps reload it (they poll the file's mtime) without a restart. */}}
            {{- if $limits }}
            - name: limits
              mountPath: {{ include "firn.limitsDir" $root }}
              readOnly: true
            {{- end }}
            {{- if $retention }}
            - name: retention
              mountPath: {{ include "firn.retentionDir" $root }}
              readOnly: true
            {{- end }}
            {{- if $symCache }}
            - name: symbolizer-cache
              mountPath: {{ include "firn.symbolizerCacheDir" $root }}
            {{- end }}
            {{- if $scrape }}
            - name: scrape
              mountPath: {{ include "firn.scrapeDir" $root }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        - name: data
          {{- if .dataClaim }}
          persistentVolumeClaim:
            claimName: {{ .dataClaim }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- if $tokens }}
        - name: tokens
          secret:
            secretName: {{ include "firn.tokensSecretName" $root }}
            defaultMode: 0440
            items:
              - key: tokens.json
                path: tokens.json
        {{- end }}
        {{- if $limits }}
        - name: limits
          configMap:
            name: {{ include "firn.limitsConfigMapName" $root }}
            items:
              - key: {{ $v.limits.configMapKey }}
                path: limits.yaml
        {{- end }}
        {{- if $retention }}
        - name: retention
          configMap:
            name: {{ include "firn.retentionConfigMapName" $root }}
            items:
              - key: {{ $v.retention.configMapKey }}
                path: retention.yaml
        {{- end }}
        {{- if $symCache }}
        - name: symbolizer-cache
          emptyDir:
            sizeLimit: {{ $v.symbolization.cacheSizeLimit | quote }}
        {{- end }}
        {{- if $scrape }}
        - name: scrape
          configMap:
            name: {{ include "firn.scrapeConfigMapName" $root }}
            items:
              - key: scrape.yaml
                path: scrape.yaml
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml $c.topologySpreadConstraints | nindent 8 }}
      {{- else if and .pdb $v.topologySpread.enabled }}
      # Soft spread over nodes and zones, so one lost node or zone takes at most its share.
      topologySpreadConstraints:
        {{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
        - maxSkew: {{ $v.topologySpread.maxSkew }}
          topologyKey: {{ $key }}
          whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "firn.selectorLabels" $ctx | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "firn.labels" $ctx | nindent 4 }}
  {{- with $c.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $c.service.type }}
  selector:
    {{- include "firn.selectorLabels" $ctx | nindent 4 }}
  ports:
    # One port serves gRPC (h2c), gRPC-web, Connect, HTTP and /metrics.
    - name: http
      port: {{ $c.service.port | int64 }}
      targetPort: http
      protocol: TCP
{{- if $hpa }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "firn.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $c.autoscaling.minReplicas | int64 }}
  maxReplicas: {{ $c.autoscaling.maxReplicas | int64 }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $c.autoscaling.targetCPUUtilizationPercentage | int64 }}
{{- end }}
{{- if and .pdb $v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "firn.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $v.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "firn.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end }}
