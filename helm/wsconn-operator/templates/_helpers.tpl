{{/* Names, labels and the RBAC rules shared by the templates. */}}

{{- define "wsconn-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: fullnameOverride; else the chart name when the release name is part of it (release "wsconn"
-> "wsconn-operator", no "wsconn-wsconn-operator"); else the release name when it holds the chart name;
else "<release>-<chart>".
*/}}
{{- define "wsconn-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "wsconn-operator.name" . }}
{{- if hasPrefix .Release.Name $name }}
{{- $name | trunc 63 | trimSuffix "-" }}
{{- else if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wsconn-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wsconn-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wsconn-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "wsconn-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image reference: a digest, when set, pins the exact image (the tag is then only informative). */}}
{{- define "wsconn-operator.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "wsconn-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wsconn-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* High availability: more than one replica, coordinated by Kopf peering (one active replica). */}}
{{- define "wsconn-operator.ha" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{- define "wsconn-operator.peeringName" -}}
{{- default (include "wsconn-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/*
What the operator may do in the namespaces it watches (docs/install.md, "Security model"): its own resources
(patch/update for the finalizer, Kopf's annotations and the Secret-change trigger annotation), their status,
Secrets read-only (it never writes them), and Events. No delete, no create of anything but Events, no
wildcard. Peering rules are added by the templates in HA mode only.
*/}}
{{- define "wsconn-operator.rules" -}}
- apiGroups: [azureml.dev]
  resources: [workspaceconnections]
  verbs: [get, list, watch, patch, update]
- apiGroups: [azureml.dev]
  resources: [workspaceconnections/status]
  verbs: [get, patch, update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
