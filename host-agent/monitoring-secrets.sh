#!/bin/bash
# Reads the host's SSM SecureString parameters with the instance role into files under the secrets directory
# (tmpfs; this unit's RuntimeDirectory, readable by its own dynamic user only). systemd then hands each service
# only its own secrets (LoadCredential= in its unit). Runs at every boot, before the services that need them.
#
# Usage: monitoring-secrets <bundle.json> <directory>: the applied bundle's `secrets` (SSM parameter, file relative
# to <directory>, parameter version or null) and `region`. With a version it reads exactly that one
# (`name:version`), so a rotated key and the certificate shipped in the same bundle always match.
set -euo pipefail

bundle=$1
dir=$2
umask 077
AWS_REGION=$(jq -er .region "$bundle")
export AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION
failed=0
while IFS=$'\t' read -r parameter file version; do
  [ -n "$parameter" ] || continue
  selector=$parameter
  if [ -n "$version" ]; then selector="$parameter:$version"; fi
  if ! value=$(aws ssm get-parameter --with-decryption --name "$selector" --query Parameter.Value --output text); then
    printf 'monitoring-secrets: ERROR: cannot read SSM parameter %s (the instance role needs ssm:GetParameter on it and kms:Decrypt on its key)\n' "$selector" >&2
    failed=1
    continue
  fi
  mkdir -p "$(dirname "$dir/$file")"
  printf '%s' "$value" >"$dir/$file.tmp"
  mv -f "$dir/$file.tmp" "$dir/$file"
  printf 'monitoring-secrets: wrote %s (%s)\n' "$file" "$selector"
done < <(jq -r '.secrets[] | [.parameter, .file, (.version // "" | tostring)] | @tsv' "$bundle")
exit "$failed"
