{{/* The release's base name: the release name, unless it lacks "budnet". */}}
{{- define "budnet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 56 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 56 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The egress gateway's object names: budnet-egress for a release named budnet, as deploy/egress. */}}
{{- define "budnet.egress.name" -}}
{{- printf "%s-egress" (include "budnet.fullname" .) -}}
{{- end -}}

{{/* The labels that select the gateway's pods; the client namespaces' policies name them too. */}}
{{- define "budnet.egress.selectorLabels" -}}
app.kubernetes.io/name: budnet-egress
{{- end -}}

{{/* Labels on every object. */}}
{{- define "budnet.labels" -}}
app.kubernetes.io/part-of: budnet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "budnet.egress.labels" -}}
{{ include "budnet.egress.selectorLabels" . }}
{{ include "budnet.labels" . }}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "budnet.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}
