#!/bin/bash
# Fetches the config bundle from S3 when its ETag changed, unpacks it, downloads the release archives it pins and
# verifies each against the SHA-256 in the bundle (never the release's own checksum file: same origin as the
# archive), then signals the apply step. Unprivileged (monitoring-sync.service, every 90 s); the apply step (root,
# no network) installs what this verified. At first boot cloud-init runs it as root with --bootstrap, which then
# runs the apply step itself. Settings: bootstrap.json (user data) and the bundle, read with jq.
set -euo pipefail

log() { printf 'monitoring-sync: %s\n' "$*"; }
die() {
  printf 'monitoring-sync: ERROR: %s\n' "$*" >&2
  exit 1
}

# bootstrap.json into shell variables; exported: aws needs the region.
load_settings() {
  local file=${BOOTSTRAP_JSON:-/etc/monitoring-host/bootstrap.json} settings
  settings=$(jq -er '@sh "AWS_REGION=\(.region) CONFIG_BUCKET=\(.configBucket) CONFIG_KEY=\(.configKey) STATE_DIR=\(.stateDir) CONFIG_ROOT=\(.configRoot) BIN_ROOT=\(.binRoot)"' "$file") ||
    die "cannot read the bootstrap settings in $file"
  eval "export $settings"
  export AWS_DEFAULT_REGION=$AWS_REGION
  SYNC_DIR="$STATE_DIR/sync"
}

remote_etag() {
  aws s3api head-object --bucket "$CONFIG_BUCKET" --key "$CONFIG_KEY" --query ETag --output text
}

# The role or the bundle may lag the launch. Each failure is reported at once with the AWS CLI's error (a wrong
# bucket must not look like a slow start), again when it changes, and every minute.
wait_for_etag() {
  local tries=$1 i etag err last=""
  for ((i = 1; i <= tries; i++)); do
    if etag=$(remote_etag 2>"$SYNC_DIR/head-object.err") && [ -n "$etag" ]; then
      printf '%s\n' "$etag"
      return 0
    fi
    err=$(tr -s '\n' ' ' <"$SYNC_DIR/head-object.err")
    if [ "$err" != "$last" ] || ((i % 6 == 0)); then
      printf 'monitoring-sync: ERROR: cannot read s3://%s/%s (HeadObject; the instance role needs s3:GetObject on it), attempt %d of %d: %s\n' \
        "$CONFIG_BUCKET" "$CONFIG_KEY" "$i" "$tries" "${err:-no ETag returned}" >&2
      last=$err
    fi
    sleep "${ETAG_RETRY_SECONDS:-10}"
  done
  die "cannot read s3://$CONFIG_BUCKET/$CONFIG_KEY (the instance role needs s3:GetObject on it); last error: ${last:-none}"
}

# An entry the apply step must not install: a relative path or `..`, not an octal mode, no user:group owner, an
# action other than reload/restart of a unit, NUL in the content (unpack_bundle's separator).
BAD_ENTRY='(.path | (test("^/") | not) or any(split("/")[]; . == "..")) or (.mode | test("^0[0-7]{3}$") | not)
  or (.owner | test("^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$") | not)
  or (.onChange != null and ((.onChange.unit | test("^[A-Za-z0-9@._-]+$") | not) or (.onChange.action | IN("reload", "restart") | not)))
  or (.content | explode | any(. == 0))'

# Checks the bundle, then writes each file's content to <dir>/files/<host path> for the apply step.
unpack_bundle() {
  local bundle=$1 out=$2 path content bad
  jq -e '.schemaVersion == 2' "$bundle" >/dev/null || die "unsupported bundle schemaVersion $(jq -c .schemaVersion "$bundle" 2>/dev/null)"
  bad=$(jq -r ".files[] | select($BAD_ENTRY) | .path | tojson" "$bundle") || die "the bundle is not the JSON this host reads"
  [ -z "$bad" ] || die "refusing bundle entry $(head -n 1 <<<"$bad")"
  mkdir -p "$out/files"
  while IFS= read -r -d '' path && IFS= read -r -d '' content; do
    mkdir -p "$out/files${path%/*}"
    printf '%s' "$content" >"$out/files$path"
  done < <(jq -j '.files[] | .path, "\u0000", .content, "\u0000"' "$bundle")
}

# Downloads the bundle with this ETag into a fresh directory and prints the directory.
fetch_bundle() {
  local etag=$1 id dir
  id=$(printf '%s' "$etag" | tr -dc 'A-Za-z0-9')
  dir="$SYNC_DIR/bundles/$id"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  aws s3api get-object --bucket "$CONFIG_BUCKET" --key "$CONFIG_KEY" --if-match "$etag" "$dir.tmp/bundle.json" >/dev/null ||
    die "cannot download s3://$CONFIG_BUCKET/$CONFIG_KEY"
  unpack_bundle "$dir.tmp/bundle.json" "$dir.tmp" || die "cannot unpack the bundle with ETag $etag"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  printf '%s\n' "$dir"
}

# Downloads one release archive into <dir>, kept only when its SHA-256 is the pinned one; a mismatch or no pinned
# digest stops the run: nothing unverified is ever installed.
fetch_artifact() {
  local dir=$1 artifact=$2 url=$3 expected=$4 actual
  if ! [[ $expected =~ ^[0-9a-f]{64}$ ]]; then
    die "no pinned SHA-256 for $artifact in the bundle (config/release-manifest.ts or the stack's releaseDigests); not downloading or installing it"
  fi
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  curl -fsSL --retry 5 --retry-delay 3 --connect-timeout 15 -o "$dir.tmp/$artifact" "$url" || die "download failed: $url"
  actual=$(sha256sum "$dir.tmp/$artifact" | awk '{ print $1 }')
  if [ "$actual" != "$expected" ]; then
    rm -rf "$dir.tmp"
    die "checksum mismatch for $artifact: pinned $expected, downloaded $actual ($url); not installing it"
  fi
  mv "$dir.tmp" "$dir"
  log "verified $artifact ($expected)"
}

# The bundle's `versions`: name, version, artifact, url and pinned sha256 of every component.
fetch_artifacts() {
  local bundle=$1 name version artifact url sha256 dir
  while IFS=$'\t' read -r name version artifact url sha256; do
    [ -n "$name" ] || continue
    if [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then continue; fi
    dir="$SYNC_DIR/artifacts/$name-$version"
    if [ -f "$dir/$artifact" ] && [ "$(sha256sum "$dir/$artifact" | awk '{ print $1 }')" = "$sha256" ]; then
      continue
    fi
    log "downloading $name $version"
    fetch_artifact "$dir" "$artifact" "$url" "$sha256"
  done < <(jq -r '.versions[] | [.name, .version, .artifact, .url, (.sha256 // "-")] | @tsv' "$bundle")
}

# Keeps the new bundle and the previous one (an apply may read it), and the archives pinned but not installed.
prune() {
  local keep=$1 previous=$2 bundle=$3 d name version
  for d in "$SYNC_DIR"/bundles/*; do
    [ -e "$d" ] || continue
    if [ "$d" != "$keep" ] && [ "$d" != "$previous" ]; then rm -rf "$d"; fi
  done
  for d in "$SYNC_DIR"/artifacts/*; do
    [ -e "$d" ] || continue
    name=${d##*/}
    version=${name##*-}
    name=${name%-*}
    if ! jq -e --arg n "$name" --arg v "$version" 'any(.versions[]; .name == $n and .version == $v)' "$bundle" >/dev/null ||
      [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then
      rm -rf "$d"
    fi
  done
}

# One sync: fetch when the ETag changed. --bootstrap (first boot, root) always fetches, then runs the apply step.
sync_once() {
  local mode=$1 etag dir previous
  mkdir -p "$SYNC_DIR"
  if [ "$mode" = --bootstrap ]; then
    etag=$(wait_for_etag 60)
  else
    etag=$(remote_etag) || die "cannot read s3://$CONFIG_BUCKET/$CONFIG_KEY (the instance role needs s3:GetObject on it)"
  fi
  if [ "$mode" != --bootstrap ] && [ "$etag" = "$(cat "$SYNC_DIR/etag" 2>/dev/null || true)" ]; then
    # Unchanged. Re-signal when the last apply of this bundle did not finish (it failed, or the host rebooted).
    if [ "$etag" != "$(cat "$STATE_DIR/applied-etag" 2>/dev/null || true)" ]; then
      log "bundle $etag fetched but not applied yet; signalling the apply step again"
      date -u +%FT%TZ >"$SYNC_DIR/ready"
    fi
    return 0
  fi
  log "fetching bundle $etag"
  dir=$(fetch_bundle "$etag")
  fetch_artifacts "$dir/bundle.json"
  previous=$(readlink "$SYNC_DIR/current" || true)
  ln -sfn "$dir" "$SYNC_DIR/current.tmp"
  mv -Tf "$SYNC_DIR/current.tmp" "$SYNC_DIR/current"
  printf '%s\n' "$etag" >"$SYNC_DIR/etag"
  prune "$dir" "$previous" "$dir/bundle.json"
  if [ "$mode" = --bootstrap ]; then
    exec bash "$dir/files$BIN_ROOT/monitoring-apply"
  fi
  # monitoring-apply.path starts the apply step when this file changes.
  date -u +%FT%TZ >"$SYNC_DIR/ready"
  log "bundle $etag ready to apply"
}

main() {
  local attempt attempts=${BOOTSTRAP_ATTEMPTS:-5}
  load_settings
  case ${1:-} in
    --bootstrap) ;;
    --bootstrap-once)
      sync_once --bootstrap
      return
      ;;
    *)
      sync_once poll
      return
      ;;
  esac
  # First boot runs once (cloud-init runcmd): retry passing failures (network, a late bundle upload) here. Each
  # attempt is its own process: inside an `if`, bash would ignore `set -e` and carry on after an error.
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    if bash "${BASH_SOURCE[0]}" --bootstrap-once; then return 0; fi
    log "bootstrap attempt $attempt of $attempts failed (see above)"
    if ((attempt < attempts)); then sleep "${BOOTSTRAP_RETRY_SECONDS:-60}"; fi
  done
  die "bootstrap failed $attempts times; fix the cause above, then run: sudo $BIN_ROOT/monitoring-sync --bootstrap"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
