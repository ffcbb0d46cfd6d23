#!/bin/bash
# Applies the config bundle the sync step fetched: data volume, service users and data directories, verified
# binaries, every file of the bundle, units. Idempotent: it runs at first boot (cloud-init, through
# `monitoring-sync --bootstrap`) and from monitoring-apply.service whenever a new bundle was fetched. Only what
# changed is touched, and only the units whose files changed are reloaded or restarted.
#
# Settings: bootstrap.env (user data) and host.env, services.tsv, versions.tsv from the bundle itself.
set -euo pipefail

log() { printf 'monitoring-apply: %s\n' "$*"; }
die() {
  printf 'monitoring-apply: ERROR: %s\n' "$*" >&2
  exit 1
}

# Overridable so tests can run the functions against a temporary tree and fake tools.
DEV_ROOT=${DEV_ROOT:-/dev}
FSTAB=${FSTAB:-/etc/fstab}
DEVICE_WAIT_SECONDS=${DEVICE_WAIT_SECONDS:-600}
DEVICE_POLL_SECONDS=${DEVICE_POLL_SECONDS:-5}

declare -A ACTIONS=()
DAEMON_RELOAD=0

# ---------------------------------------------------------------------------------------------------------------
# Data volume

# Nitro instances show EBS volumes as NVMe devices whose by-id name carries the volume id (without its dash);
# Xen instances use the attachment's device name (or its xvd alias).
resolve_data_device() {
  local vol=$1 name=${DATA_DEVICE_NAME#/dev/} candidate
  for candidate in "$DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_${vol//-/}" "$DEV_ROOT/$name" "$DEV_ROOT/${name/sd/xvd}"; do
    if [ -e "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# The volume is attached after the instance starts: wait for it, but not forever.
wait_for_data_device() {
  local vol=$1 waited=0 dev
  until dev=$(resolve_data_device "$vol"); do
    if ((waited >= DEVICE_WAIT_SECONDS)); then
      die "data volume $vol did not appear within ${DEVICE_WAIT_SECONDS}s (looked for $DEV_ROOT/disk/by-id/nvme-Amazon_Elastic_Block_Store_${vol//-/} and $DATA_DEVICE_NAME); check its attachment"
    fi
    sleep "$DEVICE_POLL_SECONDS"
    waited=$((waited + DEVICE_POLL_SECONDS))
  done
  printf '%s\n' "$dev"
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

# One fstab line per mount point, by filesystem UUID (device names change between instances), with nofail so a
# missing volume never blocks boot (the services then refuse to start: RequiresMountsFor=).
ensure_fstab() {
  local dev=$1 uuid fstype line
  uuid=$(blkid -p -s UUID -o value "$dev") || die "cannot read the filesystem UUID of $dev"
  fstype=$(blkid -p -s TYPE -o value "$dev") || die "cannot read the filesystem type of $dev"
  if [ -z "$uuid" ] || [ -z "$fstype" ]; then die "no filesystem UUID/type on $dev"; fi
  line="UUID=$uuid $DATA_MOUNT $fstype defaults,noatime,nofail,x-systemd.device-timeout=60s 0 2"
  touch "$FSTAB"
  if grep -qxF "$line" "$FSTAB"; then return 0; fi
  # Replace what an earlier volume left for this mount point; keep everything else.
  awk -v m="$DATA_MOUNT" '$2 != m' "$FSTAB" >"$FSTAB.monitoring-new"
  printf '%s\n' "$line" >>"$FSTAB.monitoring-new"
  cat "$FSTAB.monitoring-new" >"$FSTAB"
  rm -f "$FSTAB.monitoring-new"
  log "fstab: $line"
}

# The data volume is mounted: a mount point on another filesystem than the root. A mount point alone is not enough:
# in the sandboxed apply service ReadWritePaths= makes /var/lib/monitoring a bind mount of the root volume's own
# directory, so `mountpoint` says yes even when the volume is missing (found by the boot test).
data_volume_mounted() {
  mountpoint -q "$DATA_MOUNT" && [ "$(stat -c %d "$DATA_MOUNT")" != "$(stat -c %d "${ROOT_FS:-/}")" ]
}

prepare_data_volume() {
  local dev
  mkdir -p "$DATA_MOUNT"
  if data_volume_mounted; then return 0; fi
  # monitoring-apply.service has no devices and its own mount namespace: only the first-boot run can mount.
  if [ "${APPLY_CAN_MOUNT:-yes}" != yes ]; then
    die "$DATA_MOUNT is not mounted and this sandboxed run cannot mount it; check the volume attachment, then reboot or run: sudo $BIN_ROOT/monitoring-sync --bootstrap"
  fi
  dev=$(wait_for_data_device "$DATA_VOLUME_ID")
  ensure_filesystem "$dev"
  ensure_fstab "$dev"
  systemctl daemon-reload
  mount "$DATA_MOUNT" || die "cannot mount $DATA_MOUNT from $dev"
  data_volume_mounted || die "$DATA_MOUNT is not a mount point after mounting $dev"
  log "data volume $DATA_VOLUME_ID ($dev) mounted at $DATA_MOUNT"
}

# ---------------------------------------------------------------------------------------------------------------
# Users and directories

ensure_user() {
  local user=$1
  id -u "$user" >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir / --shell /sbin/nologin "$user"
  log "created system user $user"
}

# services.tsv: one system user per line. The data directories are the units' StateDirectory=: systemd creates
# them on the data volume at start and, when the top directory's owner differs (an earlier instance's uids after a
# host replacement), chowns the whole tree to the service user.
ensure_users() {
  local tsv=$1 user
  while IFS=$'\t' read -r user _; do
    [ -n "$user" ] || continue
    ensure_user "$user"
  done <"$tsv"
}

# login-groups.tsv: login user, group (hostfiles/ssh-access.ts). On-call's users get the journal's group; a user
# that does not exist yet (the SSM agent creates ssm-user when it starts) is skipped until the next apply.
ensure_login_groups() {
  local tsv=$1 user group
  [ -f "$tsv" ] || return 0
  while IFS=$'\t' read -r user group; do
    [ -n "$user" ] || continue
    if ! id -u "$user" >/dev/null 2>&1; then
      log "login user $user does not exist yet; it gets group $group at a later apply"
      continue
    fi
    if id -nG "$user" | tr ' ' '\n' | grep -qx "$group"; then continue; fi
    usermod -a -G "$group" "$user"
    log "added login user $user to group $group"
  done <"$tsv"
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

# versions.tsv: name, version, unit, artifact, url, pinned sha256, archive type, install spec. The archive is
# checked against the pinned digest again here, as root, right before it is unpacked.
install_binaries() {
  local tsv=$1 name version unit artifact sha256 archive install dir work item from to items tops
  while IFS=$'\t' read -r name version unit artifact _ sha256 archive install; do
    [ -n "$name" ] || continue
    if [ "$(cat "$BIN_ROOT/installed/$name" 2>/dev/null || true)" = "$version" ]; then continue; fi
    dir="$STATE_DIR/sync/artifacts/$name-$version"
    [[ $sha256 =~ ^[0-9a-f]{64}$ ]] || die "no pinned SHA-256 for $artifact in the bundle (config/release-manifest.ts or the stack's releaseDigests); not installing $name $version"
    [ -f "$dir/$artifact" ] || die "$name $version was not downloaded and verified by monitoring-sync; not installing it"
    [ "$(sha256sum "$dir/$artifact" | awk '{ print $1 }')" = "$sha256" ] ||
      die "checksum mismatch for $dir/$artifact (pinned $sha256); not installing $name $version"
    work=$(mktemp -d)
    unpack_archive "$dir/$artifact" "$archive" "$work"
    IFS=, read -ra items <<<"$install"
    for item in "${items[@]}"; do
      from=${item%%=*}
      to=${item#*=}
      if [[ $from == tree:* ]]; then
        from=${from#tree:}
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
    done
    rm -rf "$work"
    mkdir -p "$BIN_ROOT/installed"
    printf '%s\n' "$version" >"$BIN_ROOT/installed/$name"
    queue_action "$unit" restart
    log "installed $name $version"
  done <"$tsv"
}

# ---------------------------------------------------------------------------------------------------------------
# Files

# files.tsv: path, mode, owner, unit, action. A file is rewritten only when its content, mode or owner differ.
install_files() {
  local root=$1 path mode owner unit action src
  while IFS=$'\t' read -r path mode owner unit action; do
    [ -n "$path" ] || continue
    src="$root/files$path"
    if [ -f "$path" ] && [ "$(sha256sum <"$src")" = "$(sha256sum <"$path")" ] &&
      [ "$(stat -c '%a %U:%G' "$path")" = "$(printf '%o' "$((8#$mode))") $owner" ]; then
      continue
    fi
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" "$src" "$path"
    log "updated $path"
    if [[ $path == "$UNIT_DIR"/* ]]; then DAEMON_RELOAD=1; fi
    queue_action "$unit" "$action"
  done <"$root/files.tsv"
}

# Files of the previous bundle that the new one no longer has (a removed SLO's rule file, say) are deleted, and
# their unit gets the action it would get on a change. installed-files.tsv records what the last apply installed.
remove_stale_files() {
  local previous=$1 current=$2 path unit action
  [ -f "$previous" ] || return 0
  while IFS=$'\t' read -r path _ _ unit action; do
    [ -n "$path" ] || continue
    # One process, no pipe: `cut | grep -q` under pipefail fails when grep exits first (cut gets SIGPIPE on a large
    # files.tsv), and the file would be taken for stale and removed (the boot test saw units deleted that way).
    if awk -F'\t' -v p="$path" '$1 == p { found = 1; exit } END { exit !found }' "$current"; then continue; fi
    rm -f "$path"
    log "removed $path (no longer in the bundle)"
    if [[ $path == "$UNIT_DIR"/* ]]; then DAEMON_RELOAD=1; fi
    queue_action "$unit" "$action"
  done <"$previous"
}

# ---------------------------------------------------------------------------------------------------------------
# Certificate expiry, for node_exporter's textfile collector (the HostCertificateExpiring alerts)

# Writes the end of validity of every certificate the host serves ($SERVED_CERTIFICATES) as a Unix time. A file
# that is missing or not a certificate is reported as 0, i.e. already expired: the alert pages instead of going quiet.
write_certificate_metrics() {
  local out=$TEXTFILE_DIR/certificates.prom cert end epoch
  install -d -m 0755 "$TEXTFILE_DIR"
  {
    printf '# HELP monitoring_host_certificate_not_after_seconds End of validity (notAfter) of a certificate the host serves, Unix time; 0 when unreadable.\n'
    printf '# TYPE monitoring_host_certificate_not_after_seconds gauge\n'
    for cert in $SERVED_CERTIFICATES; do
      epoch=0
      if end=$(openssl x509 -enddate -noout -in "$cert" 2>/dev/null); then
        epoch=$(date -u -d "${end#notAfter=}" +%s 2>/dev/null) || epoch=0
      fi
      printf 'monitoring_host_certificate_not_after_seconds{path="%s"} %s\n' "$cert" "$epoch"
    done
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
  # shellcheck disable=SC2086 # ENABLED_UNITS is a space-separated list of unit names
  systemctl enable --quiet $ENABLED_UNITS
  # In start order (secrets first), so a service restarted for a new secret reads the new value. Units that are
  # not running (first boot, or stopped) are left to the start below, like try-restart would.
  for unit in $ENABLED_UNITS; do
    act_on_unit "$unit"
    unset "ACTIONS[$unit]"
  done
  # Units the host has but the bundle does not enable (sshd, reloaded for its drop-in): their action too.
  for unit in "${!ACTIONS[@]}"; do
    act_on_unit "$unit"
  done
  # --no-block: at first boot this runs inside cloud-final.service, which the units must not wait for.
  # shellcheck disable=SC2086
  systemctl start --no-block $ENABLED_UNITS
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

main() {
  local current lock
  # Config files must stay readable by their service groups whatever umask the caller has.
  umask 022
  set -a
  # shellcheck source=/dev/null
  . "${BOOTSTRAP_ENV:-/etc/monitoring-host/bootstrap.env}"
  set +a
  current="$STATE_DIR/sync/current"
  [ -f "$current/files.tsv" ] || die "no fetched bundle in $current; run monitoring-sync first"
  # shellcheck source=/dev/null
  . "$current/files$CONFIG_ROOT/host.env"
  lock="$STATE_DIR/apply.lock"
  exec 9>"$lock"
  flock 9

  ensure_user "$SYNC_USER"
  prepare_data_volume
  ensure_users "$current/files$CONFIG_ROOT/services.tsv"
  ensure_login_groups "$current/files$CONFIG_ROOT/login-groups.tsv"
  install_binaries "$current/files$CONFIG_ROOT/versions.tsv"
  install_files "$current"
  remove_stale_files "$STATE_DIR/installed-files.tsv" "$current/files.tsv"
  cp "$current/files.tsv" "$STATE_DIR/installed-files.tsv"
  chown -R "$SYNC_USER:$SYNC_USER" "$STATE_DIR/sync"
  write_certificate_metrics
  activate_and_record
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
