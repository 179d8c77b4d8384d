{{/* Names and labels. */}}

{{- define "firn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "firn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "firn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* dict "root" $ "component" "gateway". Shortens the prefix, never the suffix, so two
components can't end up with the same 63-character name. */}}
{{- define "firn.componentName" -}}
{{- $suffix := printf "-%s" .component }}
{{- $prefix := include "firn.fullname" .root | trunc (int (sub 63 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s%s" $prefix $suffix }}
{{- end }}

{{- define "firn.commonLabels" -}}
helm.sh/chart: {{ include "firn.chart" . }}
app.kubernetes.io/name: {{ include "firn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: firn
{{- end }}

{{/* dict "root" $ "component" "gateway" */}}
{{- define "firn.labels" -}}
{{ include "firn.commonLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* dict "root" $ "component" "gateway"; never add to these: selectors are immutable. */}}
{{- define "firn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "firn.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "firn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "firn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "firn.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Secret holding tokens.json: the user's, or the one the chart makes from auth.tokens. */}}
{{- define "firn.tokensSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- printf "%s-tokens" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* "true" when the tokens Secret is mounted (auth.tokenStore=file only): always in scaled mode
(the gateway and querier need a file, even an empty one), for the all-in-one only when tokens were
given (otherwise it makes <data-dir>/tokens.json with a default tenant and token). */}}
{{- define "firn.tokensMounted" -}}
{{- if and (eq .Values.auth.tokenStore "file") (or .Values.auth.existingSecret .Values.auth.tokens (not .Values.allInOne.enabled)) }}true{{ end }}
{{- end }}

{{/* The Secret holding the admin API's bootstrap secret (FIRN_ADMIN_TOKEN): the user's, or the
one the chart generates (nats token store only). */}}
{{- define "firn.adminSecretName" -}}
{{- if .Values.auth.admin.existingSecret }}
{{- .Values.auth.admin.existingSecret }}
{{- else }}
{{- printf "%s-admin" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* "true" when gateway and all-in-one get FIRN_ADMIN_TOKEN. */}}
{{- define "firn.adminTokenEnabled" -}}
{{- if and (eq .Values.auth.tokenStore "nats") .Values.auth.admin.enabled }}true{{ end }}
{{- end }}

{{- define "firn.limitsConfigMapName" -}}
{{- if .Values.limits.existingConfigMap }}
{{- .Values.limits.existingConfigMap }}
{{- else }}
{{- printf "%s-limits" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* "true" when a retention-only file (the old format, FIRN_RETENTION_OVERRIDES_FILE) is
mounted: the user's retention.existingConfigMap, or retention.tenants when the overrides file is
the user's own (limits.existingConfigMap), where the chart cannot add them. Otherwise
retention.tenants go into the one overrides file. */}}
{{- define "firn.legacyRetentionFile" -}}
{{- if or .Values.retention.existingConfigMap (and .Values.limits.existingConfigMap .Values.retention.tenants) }}true{{ end }}
{{- end }}

{{- define "firn.retentionConfigMapName" -}}
{{- if .Values.retention.existingConfigMap }}
{{- .Values.retention.existingConfigMap }}
{{- else }}
{{- printf "%s-retention" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The agent's ServiceAccount: its own, because only the agent needs an API token (for the
kubelet) and RBAC. */}}
{{- define "firn.agentServiceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "firn.componentName" (dict "root" . "component" "agent")) .Values.agent.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "firn.agentTokenSecretName" -}}
{{- if .Values.agent.token.existingSecret }}
{{- .Values.agent.token.existingSecret }}
{{- else }}
{{- printf "%s-token" (include "firn.componentName" (dict "root" . "component" "agent")) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Where the agent sends batches: agent.gatewayUrl, else this release's gateway (or all-in-one). */}}
{{- define "firn.agentGatewayUrl" -}}
{{- if .Values.agent.gatewayUrl }}
{{- .Values.agent.gatewayUrl }}
{{- else if .Values.allInOne.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "firn.componentName" (dict "root" . "component" "all-in-one")) .Release.Namespace (int64 .Values.allInOne.service.port) }}
{{- else }}
{{- printf "http://%s.%s.svc:%d" (include "firn.componentName" (dict "root" . "component" "gateway")) .Release.Namespace (int64 .Values.gateway.service.port) }}
{{- end }}
{{- end }}

{{/* The agent image: agent.image.* where set, else the chart's image. */}}
{{- define "firn.agentImage" -}}
{{- $i := .Values.agent.image }}
{{- $repo := $i.repository | default .Values.image.repository }}
{{- if $i.digest }}
{{- printf "%s@%s" $repo $i.digest }}
{{- else if and (not $i.repository) (not $i.tag) .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo ($i.tag | default .Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Where data and scratch files go; the root filesystem is read-only. */}}
{{- define "firn.dataDir" -}}/var/lib/firn/data{{- end }}
{{- define "firn.tokensDir" -}}/etc/firn/tokens{{- end }}
{{- define "firn.limitsDir" -}}/etc/firn/limits{{- end }}
{{- define "firn.retentionDir" -}}/etc/firn/retention{{- end }}
{{- define "firn.symbolizerCacheDir" -}}/var/cache/firn/symbolizer{{- end }}

{{/* The headless Service listing the ready queriers: peers of each other, and the gateway's upstream. */}}
{{- define "firn.querierPeersService" -}}
{{- include "firn.componentName" (dict "root" . "component" "querier-peers") }}
{{- end }}

{{- define "firn.querierPeersUrl" -}}
{{- printf "dns+http://%s.%s.svc:%d" (include "firn.querierPeersService" .) .Release.Namespace (int64 .Values.querier.port) }}
{{- end }}

{{/* The Secret holding FIRN_INTERNAL_TOKEN (gateway → querier, querier → querier). */}}
{{- define "firn.internalSecretName" -}}
{{- if .Values.internalToken.existingSecret }}
{{- .Values.internalToken.existingSecret }}
{{- else }}
{{- printf "%s-internal" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "firn.scrapeConfigMapName" -}}
{{- printf "%s-scrape" (include "firn.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "firn.scrapeDir" -}}/etc/firn/scrape{{- end }}

{{/* What the scrape config's in-cluster pod discovery needs (kubernetes_sd_configs without
api_server), as JSON: inCluster (any such job), cluster (one names no namespace: list pods
everywhere), namespaces (otherwise: where to list pods). */}}
{{- define "firn.scrapeDiscovery" -}}
{{- $inCluster := false -}}
{{- $cluster := false -}}
{{- $namespaces := list -}}
{{- if .Values.scrape.enabled -}}
{{- range (get .Values.scrape.config "scrape_configs" | default list) -}}
{{- range (get . "kubernetes_sd_configs" | default list) -}}
{{- if not (get . "api_server") -}}
{{- $inCluster = true -}}
{{- $names := dig "namespaces" "names" list . -}}
{{- if $names }}{{ $namespaces = concat $namespaces $names }}{{ else }}{{ $cluster = true }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "inCluster" $inCluster "cluster" $cluster "namespaces" (uniq $namespaces)) -}}
{{- end }}

{{/* The scraping pods' own ServiceAccount (only with in-cluster pod discovery): the other
components keep the token-less one. */}}
{{- define "firn.scraperServiceAccountName" -}}
{{- if .Values.scrape.serviceAccount.create }}
{{- default (printf "%s-scraper" (include "firn.fullname" .) | trunc 63 | trimSuffix "-") .Values.scrape.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.scrape.serviceAccount.name }}
{{- end }}
{{- end }}
