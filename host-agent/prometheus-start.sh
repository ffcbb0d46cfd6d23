#!/bin/bash
# Starts Prometheus with --storage.tsdb.retention.size taken from the filesystem its TSDB is on, as it is now:
#
#   prometheus-start <share-percent> <tsdb-path> <prometheus binary> <flags...>
#
# The size is <share-percent> of what statfs() reports for <tsdb-path>, so a volume grown in EBS but not yet in XFS
# (xfs_growfs) keeps the old, real limit instead of the configured size, and a grown filesystem is used from the
# next start on. Runs as the prometheus user under its unit's sandbox (ExecStart of prometheus.service).
set -euo pipefail

share=$1 tsdb=$2 bin=$3
shift 3
if ! [[ $share =~ ^[0-9]+$ ]] || ((share < 1 || share > 99)); then
  echo "prometheus-start: share must be a whole percentage between 1 and 99, got '$share'" >&2
  exit 2
fi
# Total blocks times the fundamental block size: the filesystem's size, whatever the device behind it.
read -r blocks bsize < <(stat -f -c '%b %S' "$tsdb")
mib=$((blocks * bsize * share / 100 / 1048576))
if ((mib < 1)); then
  echo "prometheus-start: $tsdb is too small for a retention size ($((blocks * bsize)) bytes)" >&2
  exit 1
fi
echo "prometheus-start: retention size ${mib}MB (${share} % of the $((blocks * bsize / 1048576)) MiB filesystem of $tsdb)"
# Prometheus' MB is 2^20 bytes.
exec "$bin" "$@" "--storage.tsdb.retention.size=${mib}MB"
