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

{{/* "true" when a tokens Secret is mounted: always for the scaled gateway, for the all-in-one
only when tokens were given (otherwise it creates a default tenant and token on its volume). */}}
{{- define "firn.tokensMounted" -}}
{{- if or .Values.auth.existingSecret .Values.auth.tokens (and (not .Values.allInOne.enabled) .Values.gateway.enabled) }}true{{ end }}
{{- end }}

{{/* Where data and scratch files go; the root filesystem is read-only. */}}
{{- define "firn.dataDir" -}}/var/lib/firn/data{{- end }}
{{- define "firn.tokensDir" -}}/etc/firn/tokens{{- end }}
