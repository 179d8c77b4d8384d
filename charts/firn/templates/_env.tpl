{{/*
Container environment of the Firn servers. "firn.env" is what every server gets; each
"firn.env.<group>" is a group of settings that only some components read, and a component's
template names its groups ("env" (list ...)). charts/chart.spec.ts checks every variable here
against the config schema of each component that includes it, so keep one define per group and
nothing else in this file. Only variables the app reads are set; secrets come from Secrets
through secretKeyRef, never from plain values.

Arguments (dict): root, port, shutdownMs, s3, nats, groups (list of group names), extraEnv.
*/}}
{{- define "firn.env" -}}
{{- $v := .root.Values -}}
- name: FIRN_HOST
  value: "0.0.0.0"
- name: FIRN_PORT
  value: {{ .port | int64 | quote }}
- name: FIRN_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: FIRN_SHUTDOWN_TIMEOUT_MS
  value: {{ .shutdownMs | quote }}
- name: FIRN_DATA_DIR
  value: {{ include "firn.dataDir" .root | quote }}
{{- with $v.otlp.endpoint }}
- name: FIRN_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: FIRN_TRACE_SAMPLE_RATIO
  value: {{ $v.otlp.sampleRatio | toString | quote }}
{{- if .s3 }}
- name: FIRN_STORAGE
  value: s3
{{- with $v.storage.s3.endpoint }}
- name: FIRN_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: FIRN_S3_REGION
  value: {{ $v.storage.s3.region | quote }}
- name: FIRN_S3_BUCKET
  value: {{ required "storage.s3.bucket is required" $v.storage.s3.bucket | quote }}
{{- with $v.storage.s3.prefix }}
- name: FIRN_S3_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: FIRN_S3_FORCE_PATH_STYLE
  value: {{ ternary "true" "false" $v.storage.s3.forcePathStyle | quote }}
{{- with $v.storage.s3.existingSecret }}
- name: FIRN_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.storage.s3.accessKeyIdKey }}
- name: FIRN_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.storage.s3.secretAccessKeyKey }}
{{- end }}
{{- else }}
- name: FIRN_STORAGE
  value: local
{{- end }}
{{- if .nats }}
- name: FIRN_NATS_URL
  value: {{ required "nats.url is required" $v.nats.url | quote }}
- name: FIRN_NATS_REPLICAS
  value: {{ $v.nats.replicas | int64 | quote }}
{{- with $v.nats.existingSecret }}
- name: FIRN_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.nats.tokenKey }}
{{- end }}
{{- end }}
{{- range .groups }}
{{ include (printf "firn.env.%s" .) $ }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Shared symbol cache (querier, symbolizer). */}}
{{- define "firn.env.symbolCache" -}}
{{- $v := .root.Values -}}
- name: FIRN_SYMBOL_CACHE
  value: {{ $v.symbolCache.backend | quote }}
- name: FIRN_MEMORY_CACHE_BYTES
  value: {{ $v.symbolCache.memoryBytes | int64 | quote }}
{{- if eq $v.symbolCache.backend "redis" }}
{{- if $v.redis.existingSecret }}
- name: FIRN_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $v.redis.urlKey }}
{{- else }}
- name: FIRN_REDIS_URL
  value: {{ required "redis.url is required when symbolCache.backend=redis" $v.redis.url | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The all-in-one's in-process symbol cache. */}}
{{- define "firn.env.memoryCache" -}}
- name: FIRN_MEMORY_CACHE_BYTES
  value: {{ .root.Values.symbolCache.memoryBytes | int64 | quote }}
{{- end }}

{{/* Where tenants and API tokens live (everything that authenticates callers). */}}
{{- define "firn.env.tokenStore" -}}
{{- $v := .root.Values -}}
- name: FIRN_TOKEN_STORE
  value: {{ $v.auth.tokenStore | quote }}
{{- if eq $v.auth.tokenStore "nats" }}
- name: FIRN_TOKEN_REFRESH_MS
  value: {{ $v.auth.tokenRefreshMs | int64 | quote }}
{{- else if eq (include "firn.tokensMounted" .root) "true" }}
- name: FIRN_TOKENS_FILE
  value: {{ printf "%s/tokens.json" (include "firn.tokensDir" .root) | quote }}
{{- end }}
{{- end }}

{{/* The admin API (gateway, all-in-one): bootstrap secret and audit file. */}}
{{- define "firn.env.admin" -}}
{{- $v := .root.Values -}}
{{- if eq (include "firn.adminTokenEnabled" .root) "true" }}
- name: FIRN_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "firn.adminSecretName" .root }}
      key: {{ $v.auth.admin.secretKey }}
{{- end }}
{{- if $v.auth.auditLogToFile }}
- name: FIRN_AUDIT_LOG_FILE
  value: {{ printf "%s/admin-audit.log" (include "firn.dataDir" .root) | quote }}
{{- end }}
{{- end }}

{{/* The per-tenant overrides file (limits, retention, price; gateway, querier, compactor,
all-in-one); re-read when the ConfigMap changes. */}}
{{- define "firn.env.limits" -}}
{{- $v := .root.Values -}}
- name: FIRN_OVERRIDES_FILE
  value: {{ printf "%s/limits.yaml" (include "firn.limitsDir" .root) | quote }}
- name: FIRN_OVERRIDES_POLL
  value: {{ $v.limits.pollMs | int64 | quote }}
{{- end }}

{{/* Retention: the compactor deletes, the querier clips queries; both must agree. Per-tenant
retention is in the overrides file (firn.env.limits); a retention-only file only in the cases
firn.legacyRetentionFile names. */}}
{{- define "firn.env.retention" -}}
{{- $v := .root.Values -}}
- name: FIRN_RETENTION
  value: {{ $v.retention.default | toString | quote }}
{{- if include "firn.legacyRetentionFile" .root }}
- name: FIRN_RETENTION_OVERRIDES_FILE
  value: {{ printf "%s/retention.yaml" (include "firn.retentionDir" .root) | quote }}
{{- end }}
{{- end }}

{{/* Compaction levels, grace and leases (compactor, all-in-one). */}}
{{- define "firn.env.compaction" -}}
{{- $c := .root.Values.compaction -}}
# The pod name: leases and manifest deltas then name a pod you can find.
- name: FIRN_COMPACTOR_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: FIRN_COMPACTOR_INTERVAL
  value: {{ $c.interval | toString | quote }}
- name: FIRN_COMPACTOR_GRACE
  value: {{ $c.grace | toString | quote }}
- name: FIRN_COMPACTOR_GC_INTERVAL
  value: {{ $c.gcInterval | toString | quote }}
- name: FIRN_COMPACTOR_LEASE_TTL
  value: {{ $c.leaseTtl | toString | quote }}
- name: FIRN_COMPACTOR_L1_WINDOW
  value: {{ $c.l1.window | toString | quote }}
- name: FIRN_COMPACTOR_L1_MIN_SEGMENTS
  value: {{ $c.l1.minSegments | int64 | quote }}
- name: FIRN_COMPACTOR_L1_MIN_BYTES
  value: {{ $c.l1.minBytes | int64 | quote }}
- name: FIRN_COMPACTOR_L1_SETTLE
  value: {{ $c.l1.settle | toString | quote }}
- name: FIRN_COMPACTOR_L1_BUCKET
  value: {{ $c.l1.bucket | toString | quote }}
- name: FIRN_COMPACTOR_L2_WINDOW
  value: {{ $c.l2.window | toString | quote }}
- name: FIRN_COMPACTOR_L2_MIN_SEGMENTS
  value: {{ $c.l2.minSegments | int64 | quote }}
- name: FIRN_COMPACTOR_L2_MIN_BYTES
  value: {{ $c.l2.minBytes | int64 | quote }}
- name: FIRN_COMPACTOR_L2_SETTLE
  value: {{ $c.l2.settle | toString | quote }}
- name: FIRN_COMPACTOR_L2_BUCKET
  value: {{ $c.l2.bucket | toString | quote }}
{{- end }}

{{/* debuginfod servers (gateway: whether to ask agents for uploads; symbolizer: downloads). */}}
{{- define "firn.env.debuginfod" -}}
{{- $d := .root.Values.debuginfod -}}
- name: FIRN_DEBUGINFOD_URLS
  value: {{ join "," $d.urls | quote }}
- name: FIRN_DEBUGINFOD_TIMEOUT_MS
  value: {{ $d.timeoutMs | int64 | quote }}
- name: FIRN_DEBUGINFOD_RETRIES
  value: {{ $d.retries | int64 | quote }}
- name: FIRN_DEBUGINFOD_CONCURRENCY
  value: {{ $d.concurrency | int64 | quote }}
{{- end }}

{{/* Symbolizer work (symbolizer, all-in-one). */}}
{{- define "firn.env.symbolization" -}}
{{- $s := .root.Values.symbolization -}}
- name: FIRN_SYMBOLIZER_JOBS
  value: {{ $s.jobs | int64 | quote }}
- name: FIRN_SYMBOLIZER_CACHE_BYTES
  value: {{ $s.cacheBytes | int64 | quote }}
{{- end }}

{{/* The symbolizer's debug-file cache on its own emptyDir (the working dir is read-only). */}}
{{- define "firn.env.symbolizerCacheDir" -}}
- name: FIRN_SYMBOLIZER_CACHE_DIR
  value: {{ include "firn.symbolizerCacheDir" .root | quote }}
{{- end }}

{{/* Querier fan-out: peers found through the headless Service (ready pods only), itself left out. */}}
{{- define "firn.env.querierPeers" -}}
{{- $v := .root.Values -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: FIRN_QUERIER_PEERS
  value: {{ include "firn.querierPeersUrl" .root | quote }}
- name: FIRN_QUERIER_SELF_ADDRESS
  value: "$(POD_IP)"
- name: FIRN_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "firn.internalSecretName" .root }}
      key: {{ $v.internalToken.secretKey }}
{{- end }}

{{/* The gateway forwards the public query APIs to the queriers (same headless Service). */}}
{{- define "firn.env.queryProxy" -}}
{{- $v := .root.Values -}}
{{- if $v.querier.enabled }}
- name: FIRN_QUERIERS
  value: {{ include "firn.querierPeersUrl" .root | quote }}
- name: FIRN_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "firn.internalSecretName" .root }}
      key: {{ $v.internalToken.secretKey }}
{{- end }}
{{- end }}

{{/* Pull-mode scraping (gateway, all-in-one): the mounted scrape.config. */}}
{{- define "firn.env.scrape" -}}
{{- $v := .root.Values -}}
{{- if $v.scrape.enabled }}
- name: FIRN_SCRAPE_CONFIG_FILE
  value: {{ printf "%s/scrape.yaml" (include "firn.scrapeDir" .root) | quote }}
{{- end }}
{{- end }}
