{{/* Names and labels. */}}
{{- define "clinic.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "clinic.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: clinic
{{- end -}}

{{/* selector labels of one role: (dict "ctx" $ "role" "api") */}}
{{- define "clinic.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "clinic.secretName" -}}
{{- default (printf "%s-secrets" (include "clinic.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Which servers each role talks to (NetworkPolicy egress, and labels the servers'
     own policies can select). */}}
{{- define "clinic.uses" -}}
{{- $uses := dict
    "api" (list "postgres" "redis" "kafka")
    "migrate" (list "postgres")
    "projector" (list "postgres")
    "relay" (list "postgres" "kafka")
    "notifier" (list "postgres" "redis" "kafka" "smtp")
    "webhooks" (list "postgres" "kafka" "partners") -}}
{{- get $uses . | join "," -}}
{{- end -}}

{{/* Environment shared by every process: settings, never secret values (those are files). */}}
{{- define "clinic.env" -}}
- name: CLINIC_MODE
  value: production
- name: CLINIC_DATA_DIR
  value: /var/lib/clinic
- name: CLINIC_DB_SCHEMA
  value: {{ .Values.database.schema | quote }}
- name: CLINIC_DATABASE_URL_FILE
  value: /etc/clinic/secrets/database-url
- name: CLINIC_REDIS_URL_FILE
  value: /etc/clinic/secrets/redis-url
- name: CLINIC_JWT_SECRET_FILE
  value: /etc/clinic/secrets/jwt-secret
- name: CLINIC_PHI_KEK_FILE
  value: /etc/clinic/secrets/phi-kek
- name: CLINIC_AUDIT_SIGNING_KEY_FILE
  value: /etc/clinic/secrets/audit-signing-key
- name: CLINIC_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: CLINIC_KAFKA_TLS
  value: {{ .Values.kafka.tls | quote }}
- name: CLINIC_KAFKA_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: CLINIC_KAFKA_REPLICATION
  value: {{ .Values.kafka.replication | quote }}
- name: CLINIC_SMTP_HOST
  value: {{ .Values.smtp.host | quote }}
- name: CLINIC_SMTP_PORT
  value: {{ .Values.smtp.port | quote }}
- name: CLINIC_SMTP_FROM
  value: {{ .Values.smtp.from | quote }}
- name: CLINIC_SMTP_STARTTLS
  value: {{ .Values.smtp.starttls | quote }}
{{- if .Values.tls.secretName }}
- name: CLINIC_TLS_CA_FILE
  value: /etc/clinic/tls/ca.crt
{{- range $server, $on := .Values.tls.clientCertificate }}
{{- if $on }}
- name: CLINIC_{{ upper $server }}_TLS_CERT_FILE
  value: /etc/clinic/tls/tls.crt
- name: CLINIC_{{ upper $server }}_TLS_KEY_FILE
  value: /etc/clinic/tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "clinic.volumeMounts" -}}
- name: secrets
  mountPath: /etc/clinic/secrets
  readOnly: true
{{- if .Values.tls.secretName }}
- name: tls
  mountPath: /etc/clinic/tls
  readOnly: true
{{- end }}
- name: data
  mountPath: /var/lib/clinic
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "clinic.volumes" -}}
- name: secrets
  secret:
    secretName: {{ include "clinic.secretName" . }}
    defaultMode: 0440
    items:
      - {key: jwt-secret, path: jwt-secret}
      - {key: phi-kek, path: phi-kek}
      - {key: audit-signing-key, path: audit-signing-key}
      - {key: database-url, path: database-url}
      - {key: redis-url, path: redis-url}
{{- if .Values.tls.secretName }}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
    defaultMode: 0440
{{- end }}
- name: data
  emptyDir:
    sizeLimit: 256Mi
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* The pod spec of one role: (dict "ctx" $ "role" "relay" "args" (list ...) "spec" .Values.relay
     "ports" (list (dict "name" "metrics" "port" 9464)) "probes" "<yaml>") */}}
{{- define "clinic.pod" -}}
{{- $ := .ctx -}}
metadata:
  labels:
    {{- include "clinic.labels" $ | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
    {{- range splitList "," (include "clinic.uses" .role) }}
    clinic.example/uses-{{ . }}: "true"
    {{- end }}
  annotations:
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") $ | sha256sum }}
spec:
  serviceAccountName: {{ include "clinic.fullname" $ }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $.Values.podSecurityContext | nindent 4 }}
  {{- if .restartPolicy }}
  restartPolicy: {{ .restartPolicy }}
  {{- end }}
  containers:
    - name: {{ .role }}
      image: "{{ $.Values.image.repository }}:{{ $.Values.image.tag | default $.Chart.AppVersion }}"
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      {{- with .ports }}
      ports:
        {{- range . }}
        - name: {{ .name }}
          containerPort: {{ .port }}
          protocol: TCP
        {{- end }}
      {{- end }}
      env:
        {{- include "clinic.env" $ | nindent 8 }}
      {{- with .probes }}
      {{- . | nindent 6 }}
      {{- end }}
      resources:
        {{- toYaml .spec.resources | nindent 8 }}
      securityContext:
        {{- toYaml $.Values.securityContext | nindent 8 }}
      volumeMounts:
        {{- include "clinic.volumeMounts" $ | nindent 8 }}
  volumes:
    {{- include "clinic.volumes" $ | nindent 4 }}
{{- end -}}
