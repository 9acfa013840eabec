{{/* Namespaced objects are named after the release. */}}
{{- define "modelrollout.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Cluster-scoped objects carry the release namespace and name, so two releases in two namespaces
never share one; neither part may contain a colon, so two releases cannot produce the same name. */}}
{{- define "modelrollout.clusterName" -}}
{{- printf "modelrollout:%s:%s" .Release.Namespace .Release.Name -}}
{{- end -}}

{{- define "modelrollout.selectorLabels" -}}
app.kubernetes.io/name: modelrollout
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelrollout.labels" -}}
{{ include "modelrollout.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "modelrollout.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "modelrollout.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "modelrollout.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The Secrets the Prometheus connections name (bearer tokens), one per line, sorted, unique. */}}
{{- define "modelrollout.tokenSecrets" -}}
{{- $names := list -}}
{{- range .Values.prometheus.connections -}}
{{- if .bearerTokenSecret -}}
{{- $names = append $names (required "prometheus.connections[].bearerTokenSecret.name is required" .bearerTokenSecret.name) -}}
{{- end -}}
{{- end -}}
{{- range .Values.notifications -}}
{{- range list .urlSecretRef .authorizationSecretRef -}}
{{- if . -}}
{{- $names = append $names (required "notifications[] Secret references need a name" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $names | uniq | sortAlpha | join "\n" -}}
{{- end -}}

{{/* The operator's settings file (modelrollout.api.settings.OperatorSettings, camelCase). */}}
{{- define "modelrollout.settings" -}}
prometheusConnections:
{{- if .Values.prometheus.connections }}
{{ toYaml .Values.prometheus.connections | indent 2 }}
{{- else }} []
{{- end }}
defaultPrometheusConnection: {{ .Values.prometheus.defaultConnection | quote }}
podPolicy:
{{ toYaml .Values.podPolicy | indent 2 }}
notifications:
{{- if .Values.notifications }}
{{ toYaml .Values.notifications | indent 2 }}
{{- else }} []
{{- end }}
analytics:
{{ toYaml .Values.analytics | indent 2 }}
leaderElection:
  enabled: {{ gt (int .Values.replicaCount) 1 }}
  leaseName: {{ include "modelrollout.fullname" . }}
{{ toYaml .Values.leaderElection | indent 2 }}
{{- end -}}
