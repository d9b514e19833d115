#!/usr/bin/env bash
# Secrets for deploy/compose.yaml, as files under deploy/secrets/ (git ignores them).
# Run as root (sudo): each file is owned by the user of the container that reads it, mode 0400
# (Compose mounts them as they are).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/secrets"
[[ -e phi_kek ]] && { echo "deploy/secrets already made; remove them first" >&2; exit 1; }
b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
write() {  # write FILE UID CONTENT
  (umask 077; printf '%s\n' "$3" > "$1"); chown "$2:$2" "$1"; chmod 0400 "$1"
}
pg=$(b64 24 | tr '+/' '-_')
write jwt_secret 10001 "$(b64 48)"
write phi_kek 10001 "$(b64 32)"                   # 32 bytes: the PHI key-encryption key
write audit_signing_key 10001 "$(b64 32)"         # an Ed25519 seed
write database_url 10001 "postgresql://clinic:$pg@postgres:5432/clinic"
write postgres_password 0 "$pg"                   # read by the postgres image as root
write grafana_admin_password 472 "$(b64 18)"      # the grafana image's user
echo "made deploy/secrets/: keep phi_kek and audit_signing_key in a safe as well"
