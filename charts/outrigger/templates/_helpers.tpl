{{/* Resource name: "<release>-outrigger", or the overrides, cut to 63 characters. */}}
{{- define "outrigger.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "outrigger.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "outrigger.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outrigger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "outrigger.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "outrigger.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: outrigger
{{- end -}}

{{- define "outrigger.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "outrigger.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "outrigger.secretName" -}}
{{- default (printf "%s-tls" (include "outrigger.fullname" .)) .Values.certs.secretName -}}
{{- end -}}

{{/* The MutatingWebhookConfiguration is cluster-scoped: its name carries the release namespace. */}}
{{- define "outrigger.webhookConfigurationName" -}}
{{- printf "%s-%s" (include "outrigger.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
An image reference from an image's values and the release:
  (list .Values.proxyImage .) -> "<registry>/<repository>:<tag>[@<digest>]"
global.imageRegistry, when set, replaces the image's registry; an empty tag is
the chart's appVersion; the tag stays in front of a digest, for people to read
(the runtime pulls by the digest). An empty registry leaves the repository as
the whole name.
*/}}
{{- define "outrigger.imageReference" -}}
{{- $image := index . 0 -}}
{{- $root := index . 1 -}}
{{- $global := default (dict) $root.Values.global -}}
{{- $registry := default $image.registry $global.imageRegistry | trimSuffix "/" -}}
{{- $name := $image.repository -}}
{{- if $registry -}}
{{- $name = printf "%s/%s" $registry $image.repository -}}
{{- end -}}
{{- $reference := printf "%s:%s" $name (default $root.Chart.AppVersion $image.tag) -}}
{{- if $image.digest -}}
{{- $reference = printf "%s@%s" $reference $image.digest -}}
{{- end -}}
{{- $reference -}}
{{- end -}}

{{/* The injection configuration as the ConfigMap holds it: values.injection with the proxy and init images composed in. */}}
{{- define "outrigger.injectionConfig" -}}
{{- $config := deepCopy (default (dict) .Values.injection) -}}
{{- /* Before 1.29 restartable init containers are off by default: the classic layout. */ -}}
{{- if and (not (hasKey $config "nativeSidecars")) (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) -}}
{{- $_ := set $config "nativeSidecars" false -}}
{{- end -}}
{{- $proxy := default (dict) $config.proxy -}}
{{- $_ := set $proxy "image" (include "outrigger.imageReference" (list .Values.proxyImage .)) -}}
{{- $_ = set $proxy "imagePullPolicy" .Values.proxyImage.pullPolicy -}}
{{- $_ = set $config "proxy" $proxy -}}
{{- $init := default (dict) $config.init -}}
{{- $_ = set $init "image" (include "outrigger.imageReference" (list .Values.initImage .)) -}}
{{- $_ = set $init "imagePullPolicy" .Values.initImage.pullPolicy -}}
{{- $_ = set $config "init" $init -}}
{{- toYaml $config -}}
{{- end -}}
