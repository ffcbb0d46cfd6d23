#!/bin/bash
# Fetches the host's config bundle from S3 when its ETag changed, unpacks it, downloads the release archives it
# pins and verifies each against the SHA-256 pinned in the bundle (config/release-manifest.ts, or the stack's
# releaseDigests for an archive the manifest cannot pin), then signals the apply step. The release's own checksum
# file is never used: it comes from the same origin as the archive.
#
# Runs unprivileged (monitoring-sync.service, every 90 s) so the network-facing part never has root; the apply
# step (root, no network) installs what this verified. At first boot cloud-init runs it as root with
# --bootstrap, which then runs the apply step itself. Settings: bootstrap.env (written by user data).
set -euo pipefail

log() { printf 'monitoring-sync: %s\n' "$*"; }
die() {
  printf 'monitoring-sync: ERROR: %s\n' "$*" >&2
  exit 1
}

load_env() {
  # Exported: aws needs AWS_REGION from it (under systemd, EnvironmentFile= does the same).
  set -a
  # shellcheck source=/dev/null
  . "${BOOTSTRAP_ENV:-/etc/monitoring-host/bootstrap.env}"
  set +a
  SYNC_DIR="$STATE_DIR/sync"
}

remote_etag() {
  aws s3api head-object --bucket "$CONFIG_BUCKET" --key "$CONFIG_KEY" --query ETag --output text
}

# The instance role can take a little while to work after launch; the bundle may still be uploading. Every failure
# is reported at once with the AWS CLI's own error (a wrong bucket or a missing permission must not look like a
# slow start), then again when it changes or every minute while it lasts.
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

# Writes every file of the bundle below <dir>/files/<host path> and lists them in <dir>/files.tsv
# (path, mode, owner, unit, action) for the apply step, which needs no JSON parser.
unpack_bundle() {
  python3 - "$1" "$2" <<'PY'
import json, os, re, sys

bundle, out = sys.argv[1], sys.argv[2]
with open(bundle, encoding="utf-8") as fh:
    doc = json.load(fh)
if doc.get("schemaVersion") != 1:
    sys.exit("monitoring-sync: unsupported bundle schemaVersion %r" % doc.get("schemaVersion"))
rows = []
for f in doc["files"]:
    path, mode, owner = f["path"], f["mode"], f["owner"]
    change = f.get("onChange") or {}
    fields = [path, mode, owner, change.get("unit", "-"), change.get("action", "-")]
    if not path.startswith("/") or ".." in path.split("/") or not re.fullmatch(r"0[0-7]{3}", mode):
        sys.exit("monitoring-sync: refusing bundle entry %r" % path)
    if any(re.search(r"\s", x) for x in fields):
        sys.exit("monitoring-sync: whitespace in bundle entry %r" % path)
    dest = os.path.join(out, "files", path.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write(f["content"])
    rows.append("\t".join(fields))
with open(os.path.join(out, "files.tsv"), "w", encoding="utf-8") as fh:
    fh.write("".join(r + "\n" for r in rows))
PY
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

# Downloads one release archive into <dir> and keeps it only when its SHA-256 equals the pinned one. A mismatch, or
# no pinned digest (`-`), stops the whole run with a non-zero exit: nothing unverified is ever installed.
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

# versions.tsv: name, version, unit, artifact, url, pinned sha256, archive type, install spec.
fetch_artifacts() {
  local tsv=$1 name version artifact url sha256 dir
  while IFS=$'\t' read -r name version _ artifact url sha256 _; do
    [ -n "$name" ] || continue
    if [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then continue; fi
    dir="$SYNC_DIR/artifacts/$name-$version"
    if [ -f "$dir/$artifact" ] && [ "$(sha256sum "$dir/$artifact" | awk '{ print $1 }')" = "$sha256" ]; then
      continue
    fi
    log "downloading $name $version"
    fetch_artifact "$dir" "$artifact" "$url" "$sha256"
  done <"$tsv"
}

# Keeps the new bundle and the one before it (an apply may still be reading it); keeps only the archives that are
# pinned and not installed yet.
prune() {
  local keep=$1 previous=$2 tsv=$3 d name version
  for d in "$SYNC_DIR"/bundles/*; do
    [ -e "$d" ] || continue
    if [ "$d" != "$keep" ] && [ "$d" != "$previous" ]; then rm -rf "$d"; fi
  done
  for d in "$SYNC_DIR"/artifacts/*; do
    [ -e "$d" ] || continue
    name=${d##*/}
    version=${name##*-}
    name=${name%-*}
    if ! awk -F'\t' -v n="$name" -v v="$version" '$1 == n && $2 == v { found = 1 } END { exit !found }' "$tsv" ||
      [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then
      rm -rf "$d"
    fi
  done
}

# One sync: fetch when the ETag changed. With --bootstrap (first boot, root) it always fetches and then runs the
# apply step from the fetched bundle.
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
  fetch_artifacts "$dir/files$CONFIG_ROOT/versions.tsv"
  previous=$(readlink "$SYNC_DIR/current" || true)
  ln -sfn "$dir" "$SYNC_DIR/current.tmp"
  mv -Tf "$SYNC_DIR/current.tmp" "$SYNC_DIR/current"
  printf '%s\n' "$etag" >"$SYNC_DIR/etag"
  prune "$dir" "$previous" "$dir/files$CONFIG_ROOT/versions.tsv"
  if [ "$mode" = --bootstrap ]; then
    exec bash "$dir/files$BIN_ROOT/monitoring-apply"
  fi
  # monitoring-apply.path starts the apply step when this file changes.
  date -u +%FT%TZ >"$SYNC_DIR/ready"
  log "bundle $etag ready to apply"
}

main() {
  local attempt attempts=${BOOTSTRAP_ATTEMPTS:-5}
  load_env
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
