#!/bin/bash
# Applies the config bundle the sync step fetched: data volume, service users, verified binaries, every file of the
# bundle, units. Idempotent: it runs at first boot (cloud-init, through `monitoring-sync --bootstrap`) and from
# monitoring-apply.service whenever a new bundle was fetched. Only what changed is touched, and only the units whose
# files changed are reloaded or restarted.
#
# Settings: bootstrap.json (user data) and the bundle's JSON, both read with jq. What tools do is left to them:
# systemd-sysusers creates the users, the units' StateDirectory= the data directories, `install -C` compares files.
set -euo pipefail

log() { printf 'monitoring-apply: %s\n' "$*"; }
die() {
  printf 'monitoring-apply: ERROR: %s\n' "$*" >&2
  exit 1
}

# Overridable so tests can run the functions with fake tools.
DEVICE_WAIT_SECONDS=${DEVICE_WAIT_SECONDS:-600}
DEVICE_POLL_SECONDS=${DEVICE_POLL_SECONDS:-5}

declare -A ACTIONS=()
DAEMON_RELOAD=0

# ---------------------------------------------------------------------------------------------------------------
# Data volume

# The volume is attached after the instance starts: wait for its by-id device (bootstrap.json's dataDevice), but not
# forever. Only the first boot waits here: it must format a blank volume before systemd mounts it.
wait_for_data_device() {
  local waited=0
  until [ -e "$DATA_DEVICE" ]; do
    if ((waited >= DEVICE_WAIT_SECONDS)); then
      die "data volume $DATA_VOLUME_ID did not appear within ${DEVICE_WAIT_SECONDS}s at $DATA_DEVICE; check its attachment (a Nitro instance type is needed: the volume is found by its NVMe by-id link)"
    fi
    sleep "$DEVICE_POLL_SECONDS"
    waited=$((waited + DEVICE_POLL_SECONDS))
  done
}

# Formats the device only when it is blank. `blkid -p` probes the device itself (no cache) and exits 2 when it
# finds no signature at all; a filesystem, a partition table or any error leaves the device untouched.
ensure_filesystem() {
  local dev=$1 rc=0 out
  out=$(blkid -p -o export "$dev") || rc=$?
  case $rc in
    0)
      if grep -q '^TYPE=' <<<"$out"; then
        log "data volume $dev already has a filesystem ($(grep '^TYPE=' <<<"$out")); keeping its data"
        return 0
      fi
      die "data volume $dev carries a signature but no filesystem ($(tr '\n' ' ' <<<"$out")); refusing to format it"
      ;;
    2)
      log "data volume $dev is blank: creating an XFS filesystem labelled $DATA_FS_LABEL"
      mkfs.xfs -L "$DATA_FS_LABEL" "$dev" || die "mkfs.xfs failed on $dev"
      ;;
    *)
      die "blkid could not probe $dev (exit $rc); not formatting it"
      ;;
  esac
}

# The data volume is mounted: a mount point on another filesystem than the root. A mount point alone is not enough:
# in the sandboxed apply service ReadWritePaths= makes /var/lib/monitoring a bind mount of the root volume's own
# directory, so `mountpoint` says yes even when the volume is missing (found by the boot test).
data_volume_mounted() {
  mountpoint -q "$DATA_MOUNT" && [ "$(stat -c %d "$DATA_MOUNT")" != "$(stat -c %d "${ROOT_FS:-/}")" ]
}

# First boot: format the volume if it is blank, then let systemd mount it with the mount unit user data wrote (the
# same unit mounts it at every later boot, pulled in by the services' RequiresMountsFor=).
prepare_data_volume() {
  if data_volume_mounted; then return 0; fi
  # monitoring-apply.service cannot mount (no devices, own mount namespace), and systemd only starts it with the
  # volume mounted (RequiresMountsFor=): this is a defence for a hand-started run.
  if [ "${APPLY_CAN_MOUNT:-yes}" != yes ]; then
    die "$DATA_MOUNT is not mounted and this sandboxed run cannot mount it; check the volume attachment, then reboot or run: sudo $BIN_ROOT/monitoring-sync --bootstrap"
  fi
  wait_for_data_device
  ensure_filesystem "$DATA_DEVICE"
  systemctl daemon-reload
  systemctl start "$DATA_MOUNT_UNIT" || die "systemd could not mount $DATA_DEVICE at $DATA_MOUNT (journalctl -u $DATA_MOUNT_UNIT)"
  data_volume_mounted || die "$DATA_MOUNT is not a mount point after starting $DATA_MOUNT_UNIT"
  log "data volume $DATA_VOLUME_ID ($DATA_DEVICE) mounted at $DATA_MOUNT by $DATA_MOUNT_UNIT"
}

# ---------------------------------------------------------------------------------------------------------------
# Users

# The bundle's `loginGroups` (hostfiles/ssh-access.ts): on-call's users get the journal's group. A user that does
# not exist yet (the SSM agent creates ssm-user when it starts) is skipped until the next apply.
ensure_login_groups() {
  local bundle=$1 user group
  while IFS=$'\t' read -r user group; do
    [ -n "$user" ] || continue
    if ! id -u "$user" >/dev/null 2>&1; then
      log "login user $user does not exist yet; it gets group $group at a later apply"
      continue
    fi
    if id -nG "$user" | tr ' ' '\n' | grep -qx "$group"; then continue; fi
    usermod -a -G "$group" "$user"
    log "added login user $user to group $group"
  done < <(jq -r '.loginGroups[] | [.user, .group] | @tsv' "$bundle")
}

# ---------------------------------------------------------------------------------------------------------------
# Binaries (downloaded and verified by the sync step; verified again here before anything is replaced)

queue_action() {
  local unit=$1 action=$2
  if [ "$unit" = - ] || [ "$action" = - ]; then return 0; fi
  if [ "${ACTIONS[$unit]:-}" != restart ]; then ACTIONS[$unit]=$action; fi
}

unpack_archive() {
  local file=$1 type=$2 into=$3
  case $type in
    tar.gz) tar -xzf "$file" -C "$into" --no-same-owner ;;
    zip) python3 -m zipfile -e "$file" "$into" ;;
    *) die "unknown archive type $type" ;;
  esac
}

# Installs what the bundle's `install` of one component says from the unpacked archive in <work>.
install_members() {
  local bundle=$1 name=$2 artifact=$3 work=$4 kind from to tops
  while IFS=$'\t' read -r kind from to; do
    if [ "$kind" = tree ]; then
      if [ "$from" = "*" ]; then
        # The archive's single top-level directory, whatever this release calls it.
        tops=("$work"/*/)
        if [ "${#tops[@]}" -ne 1 ] || [ ! -d "${tops[0]}" ]; then die "$artifact does not have exactly one top-level directory"; fi
        from=$(basename "${tops[0]}")
      fi
      # A whole tree (Grafana) is swapped in one rename, never half-updated.
      rm -rf "$to.new" "$to.old"
      cp -a "$work/$from" "$to.new"
      chown -R root:root "$to.new"
      if [ -e "$to" ]; then mv "$to" "$to.old"; fi
      mv "$to.new" "$to"
      rm -rf "$to.old"
    else
      install -D -m 0755 -o root -g root "$work/$from" "$to"
    fi
  done < <(jq -r --arg n "$name" '.versions[] | select(.name == $n) | .install
    | if .tree then ["tree", .tree.from, .tree.to] | @tsv else .binaries | to_entries[] | ["binary", .key, .value] | @tsv end' "$bundle")
}

# The bundle's `versions`: every component whose installed version differs is installed from the archive the sync
# step verified, after checking it against the pinned digest again here, as root, right before it is unpacked.
install_binaries() {
  local bundle=$1 name version unit artifact sha256 archive dir work
  while IFS=$'\t' read -r name version unit artifact sha256 archive; do
    [ -n "$name" ] || continue
    if [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then continue; fi
    dir="$STATE_DIR/sync/artifacts/$name-$version"
    [[ $sha256 =~ ^[0-9a-f]{64}$ ]] || die "no pinned SHA-256 for $artifact in the bundle (config/release-manifest.ts or the stack's releaseDigests); not installing $name $version"
    [ -f "$dir/$artifact" ] || die "$name $version was not downloaded and verified by monitoring-sync; not installing it"
    [ "$(sha256sum "$dir/$artifact" | awk '{ print $1 }')" = "$sha256" ] ||
      die "checksum mismatch for $dir/$artifact (pinned $sha256); not installing $name $version"
    work=$(mktemp -d)
    unpack_archive "$dir/$artifact" "$archive" "$work"
    install_members "$bundle" "$name" "$artifact" "$work"
    rm -rf "$work"
    mkdir -p "$BIN_ROOT/installed"
    printf '%s\n' "$version" >"$BIN_ROOT/installed/$name"
    queue_action "$unit" restart
    log "installed $name $version"
  done < <(jq -r '.versions[] | [.name, .version, .unit, .artifact, (.sha256 // "-"), .archive] | @tsv' "$bundle")
}

# ---------------------------------------------------------------------------------------------------------------
# Files

# Every file of the bundle, from <dir>/files/<path> (unpacked by the sync step). `install -C` rewrites a file only
# when its content, mode or owner differ, and says so (-v): only then is the file's onChange action queued.
install_files() {
  local root=$1 path mode owner unit action
  while IFS=$'\t' read -r path mode owner unit action; do
    [ -n "$path" ] || continue
    if [ -z "$(install -C -v -D -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" "$root/files$path" "$path")" ]; then continue; fi
    log "updated $path"
    if [[ $path == "$UNIT_DIR"/* ]]; then DAEMON_RELOAD=1; fi
    queue_action "$unit" "$action"
  done < <(jq -r "$FILE_ROWS" "$root/bundle.json")
}

# path, mode, owner, unit, action of every file of a bundle (`-` for no action).
FILE_ROWS='.files[] | [.path, .mode, .owner, (.onChange.unit // "-"), (.onChange.action // "-")] | @tsv'

# Files of the previously applied bundle that the new one no longer has (a removed SLO's rule file, say) are
# deleted, and their unit gets the action it would get on a change.
remove_stale_files() {
  local previous=$1 current=$2 path unit action
  [ -f "$previous" ] || return 0
  while IFS=$'\t' read -r path unit action; do
    [ -n "$path" ] || continue
    rm -f "$path"
    log "removed $path (no longer in the bundle)"
    if [[ $path == "$UNIT_DIR"/* ]]; then DAEMON_RELOAD=1; fi
    queue_action "$unit" "$action"
  done < <(jq -rn --slurpfile old "$previous" --slurpfile new "$current" '
    ($new[0].files | map(.path)) as $keep
    | $old[0].files[] | select(.path as $p | $keep | index($p) | not)
    | [.path, (.onChange.unit // "-"), (.onChange.action // "-")] | @tsv')
}

# A secret added, removed or rotated (a new parameter version) restarts the secrets unit, which fetches it, and the
# unit that loads it: LoadCredential= copies credentials only when a unit starts. Apply acts in start order, so the
# secrets unit has run before the service restarts.
queue_secret_changes() {
  local previous=$1 current=$2 unit
  [ -f "$previous" ] || return 0
  while read -r unit; do
    [ -n "$unit" ] || continue
    queue_action "$unit" restart
    queue_action "$SECRETS_UNIT" restart
  done < <(jq -rn --slurpfile old "$previous" --slurpfile new "$current" '
    def by_unit(s): s | group_by(.unit) | map({key: .[0].unit, value: map([.parameter, .version, .credential])}) | from_entries;
    (by_unit($old[0].secrets // [])) as $o | (by_unit($new[0].secrets)) as $n
    | ($o + $n | keys[]) | select($o[.] != $n[.])')
}

# ---------------------------------------------------------------------------------------------------------------
# Certificate expiry, for node_exporter's textfile collector (the HostCertificateExpiring alerts)

# Writes the end of validity of every certificate the host serves (`host.servedCertificates`) as a Unix time. A file
# that is missing or not a certificate is reported as 0, i.e. already expired: the alert pages instead of going quiet.
write_certificate_metrics() {
  local out=$TEXTFILE_DIR/certificates.prom cert end epoch
  install -d -m 0755 "$TEXTFILE_DIR"
  {
    printf '# HELP monitoring_host_certificate_not_after_seconds End of validity (notAfter) of a certificate the host serves, Unix time; 0 when unreadable.\n'
    printf '# TYPE monitoring_host_certificate_not_after_seconds gauge\n'
    while read -r cert; do
      [ -n "$cert" ] || continue
      epoch=0
      if end=$(openssl x509 -enddate -noout -in "$cert" 2>/dev/null); then
        epoch=$(date -u -d "${end#notAfter=}" +%s 2>/dev/null) || epoch=0
      fi
      printf 'monitoring_host_certificate_not_after_seconds{path="%s"} %s\n' "$cert" "$epoch"
    done < <(jq -r '.host.servedCertificates[]' "$1")
  } >"$out.tmp"
  chmod 0644 "$out.tmp"
  mv -f "$out.tmp" "$out"
}

# ---------------------------------------------------------------------------------------------------------------
# Units

# A unit that was running gets its action now and must stay up: systemctl returns once a simple service has
# forked, so a service that exits on a bad config (and is restarted by Restart=on-failure) only shows a moment
# later, as a unit that is not active or has a new main PID after RESTART_SETTLE_SECONDS.
RESTART_SETTLE_SECONDS=${RESTART_SETTLE_SECONDS:-15}

# Prints the units of <list> that are not active or whose main PID changed since <pids> (unit=pid words).
unsettled_units() {
  local pids=$1 entry unit pid
  for entry in $pids; do
    unit=${entry%=*}
    pid=${entry##*=}
    if [ "$(systemctl is-active "$unit" 2>/dev/null || true)" != active ] ||
      [ "$(systemctl show -p MainPID --value "$unit" 2>/dev/null || true)" != "$pid" ]; then
      printf '%s\n' "$unit"
    fi
  done
}

# One unit's queued action, if it is running (uses apply_units' failed and settle).
act_on_unit() {
  local unit=$1 action=${ACTIONS[$1]:-}
  [ -n "$action" ] || return 0
  systemctl is-active --quiet "$unit" || return 0
  if [ "$action" = reload ]; then
    if systemctl reload-or-restart "$unit"; then log "reloaded $unit"; else failed+=("$unit"); fi
  elif systemctl restart "$unit"; then
    log "restarted $unit"
  else
    failed+=("$unit")
  fi
  if [[ $unit == *.service ]]; then settle+=" $unit=$(systemctl show -p MainPID --value "$unit" 2>/dev/null || true)"; fi
}

# Reloads or restarts the units whose files or binaries changed, then starts everything. Returns non-zero, with
# the failed units in $APPLY_FAILED (etag, then one unit per line) and their journal tails in this unit's log,
# when one of them fails to reload/restart or does not stay up: the bundle is then not recorded as applied, the
# next poll signals the apply again, and the deploy verification names the unit.
apply_units() {
  local unit failed=() settle=""
  if ((DAEMON_RELOAD)); then systemctl daemon-reload; fi
  systemctl enable --quiet "${ENABLED_UNITS[@]}"
  # In start order (secrets first), so a service restarted for a new secret reads the new value. Units that are
  # not running (first boot, or stopped) are left to the start below, like try-restart would.
  for unit in "${ENABLED_UNITS[@]}"; do
    act_on_unit "$unit"
    unset "ACTIONS[$unit]"
  done
  # Units the host has but the bundle does not enable (sshd, reloaded for its drop-in): their action too.
  for unit in "${!ACTIONS[@]}"; do
    act_on_unit "$unit"
  done
  # --no-block: at first boot this runs inside cloud-final.service, which the units must not wait for.
  systemctl start --no-block "${ENABLED_UNITS[@]}"
  if [ -n "$settle" ] && ((RESTART_SETTLE_SECONDS > 0)); then sleep "$RESTART_SETTLE_SECONDS"; fi
  while read -r unit; do
    [ -n "$unit" ] || continue
    [[ " ${failed[*]} " == *" $unit "* ]] || failed+=("$unit")
  done < <(unsettled_units "$settle")
  if ((${#failed[@]} == 0)); then
    rm -f "$APPLY_FAILED"
    return 0
  fi
  printf '%s\n' "$(cat "$STATE_DIR/sync/etag")" "${failed[@]}" >"$APPLY_FAILED"
  for unit in "${failed[@]}"; do
    printf 'monitoring-apply: ERROR: %s did not reload/restart and stay up; last journal lines:\n' "$unit" >&2
    journalctl -u "$unit" -n 20 --no-pager >&2 2>&1 || true
  done
  return 1
}

# Units first, then the marker: a bundle whose units did not come up is never recorded as applied.
activate_and_record() {
  APPLY_FAILED="$STATE_DIR/apply-failed"
  apply_units || die "not recording bundle $(cat "$STATE_DIR/sync/etag") as applied: $(tail -n +2 "$APPLY_FAILED" | tr '\n' ' ')failed (see above); the next poll retries"
  cp "$STATE_DIR/sync/etag" "$STATE_DIR/applied-etag"
  log "applied bundle $(cat "$STATE_DIR/applied-etag")"
}

# Settings, as shell variables: bootstrap.json (user data), then the bundle's `host`.
load_settings() {
  local bundle settings
  settings=$(jq -er '@sh "STATE_DIR=\(.stateDir) CONFIG_ROOT=\(.configRoot) BIN_ROOT=\(.binRoot) SYNC_USER=\(.syncUser) DATA_VOLUME_ID=\(.dataVolumeId) DATA_DEVICE=\(.dataDevice) DATA_MOUNT_UNIT=\(.dataMountUnit)"' \
    "${BOOTSTRAP_JSON:-/etc/monitoring-host/bootstrap.json}") || die "cannot read the bootstrap settings"
  eval "$settings"
  bundle="$STATE_DIR/sync/current/bundle.json"
  [ -f "$bundle" ] || die "no fetched bundle at $bundle; run monitoring-sync first"
  settings=$(jq -er '.host | @sh "DATA_MOUNT=\(.dataMount) DATA_FS_LABEL=\(.dataFsLabel) UNIT_DIR=\(.unitDir) TEXTFILE_DIR=\(.textfileDir) SYSUSERS=\(.sysusers) SECRETS_UNIT=\(.secretsUnit)"' "$bundle") ||
    die "cannot read the settings of $bundle"
  eval "$settings"
  mapfile -t ENABLED_UNITS < <(jq -r '.host.enabledUnits[]' "$bundle")
}

main() {
  local current lock
  # Config files must stay readable by their service groups whatever umask the caller has.
  umask 022
  load_settings
  current="$STATE_DIR/sync/current"
  lock="$STATE_DIR/apply.lock"
  exec 9>"$lock"
  flock 9

  prepare_data_volume
  # The users first: files and binaries are owned by them.
  systemd-sysusers "$current/files$SYSUSERS" || die "systemd-sysusers could not create the users of $SYSUSERS"
  ensure_login_groups "$current/bundle.json"
  install_binaries "$current/bundle.json"
  install_files "$current"
  remove_stale_files "$CONFIG_ROOT/bundle.json" "$current/bundle.json"
  queue_secret_changes "$CONFIG_ROOT/bundle.json" "$current/bundle.json"
  # The applied bundle without contents: the secrets unit and the health check read it, the next apply compares.
  jq 'del(.files[].content)' "$current/bundle.json" >"$CONFIG_ROOT/bundle.json.new"
  mv -f "$CONFIG_ROOT/bundle.json.new" "$CONFIG_ROOT/bundle.json"
  chown -R "$SYNC_USER:$SYNC_USER" "$STATE_DIR/sync"
  write_certificate_metrics "$current/bundle.json"
  activate_and_record
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
