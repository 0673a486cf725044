{{/* The namespace `helm test` creates its throwaway pod in (an ordinary chart resource). */}}
{{- define "outrigger.testNamespace" -}}
{{- printf "%s-injection-test" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The ServiceAccount the `helm test` pod runs as. */}}
{{- define "outrigger.testServiceAccountName" -}}
{{- printf "%s-test" (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
