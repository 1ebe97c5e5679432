{{/* Names and labels shared by every manifest. */}}
{{- define "migrate-diag.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "migrate-diag.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "migrate-diag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "migrate-diag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "migrate-diag.labels" -}}
{{ include "migrate-diag.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "migrate-diag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "migrate-diag.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Step 4 runs (and needs the Kubernetes API) only self-hosted with the management plane on. */}}
{{- define "migrate-diag.needsKubeApi" -}}
{{- $mode := dig "deployment" "mode" "self-hosted" .Values.config -}}
{{- $mp := dig "management_plane" "enabled" true .Values.config -}}
{{- if and (eq $mode "self-hosted") $mp -}}true{{- end -}}
{{- end -}}

{{- define "migrate-diag.regionNamespace" -}}
{{- dig "management_plane" "namespace" "pcd-region-one" .Values.config -}}
{{- end -}}

{{/* The bot's YAML: .Values.config plus the paths of what the chart mounts. */}}
{{- define "migrate-diag.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.openstack.existingSecret -}}
{{- $os := default dict (get $config "openstack") -}}
{{- $_ := set $os "clouds_file" "/etc/migrate-diag/openstack/clouds.yaml" -}}
{{- $_ := set $config "openstack" $os -}}
{{- end -}}
{{- if .Values.ssh.configKey -}}
{{- $ssh := default dict (get $config "ssh") -}}
{{- $_ := set $ssh "config_file" "/etc/migrate-diag/ssh/config" -}}
{{- $_ := set $config "ssh" $ssh -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "migrate-diag.healthPort" -}}
{{- dig "health" "port" 8081 .Values.config -}}
{{- end -}}
{{- define "migrate-diag.slackHttp" -}}
{{- if eq (dig "slack" "mode" "socket" .Values.config) "http" -}}true{{- end -}}
{{- end -}}
{{- define "migrate-diag.webhook" -}}
{{- if dig "intake" "webhook" "enabled" false .Values.config -}}true{{- end -}}
{{- end -}}
