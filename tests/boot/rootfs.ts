/**
 * The Debian root filesystem the boot test runs the rendered host in: built once by mmdebstrap, cached outside the
 * clone under a key derived from exactly what goes into it (suite, variant, package list), so a fresh CI machine
 * builds it once (3–7 min, network-bound) and every later run reuses it.
 *
 *   npx tsx tests/boot/rootfs.ts --ensure    # build if missing, print the tarball's path (.ci/run does this)
 *   npx tsx tests/boot/rootfs.ts --path      # print where it is (or would be)
 *
 * The package list is what the rendered host expects of its AMI (Amazon Linux 2023 ships all of it): systemd as
 * PID 1, cloud-init, Python (the sync step unpacks the bundle with it), the AWS CLI v2, curl, jq, xfsprogs, sshd,
 * sudo, iproute2, procps, util-linux and passwd (useradd).
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

export const SUITE = "bookworm";
export const VARIANT = "minbase";
export const PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "cloud-init", "python3", "curl", "ca-certificates", "awscli", "jq", "xfsprogs",
  "openssh-server", "sudo", "iproute2", "procps", "util-linux", "passwd",
] as const;

/** Stable place outside any clone; overridable for machines where /var/cache is not writable. */
export const CACHE_ROOT = process.env.MONHOST_BOOT_CACHE ?? "/var/cache/monitoring-hosts/boot";

export function cacheKey(): string {
  return createHash("sha256").update(JSON.stringify({ SUITE, VARIANT, PACKAGES })).digest("hex").slice(0, 16);
}

export function cacheDir(): string {
  return path.join(CACHE_ROOT, cacheKey());
}

export function rootfsTarball(): string {
  return path.join(cacheDir(), "rootfs.tar");
}

export function mmdebstrapArgs(out: string): string[] {
  return [`--variant=${VARIANT}`, `--include=${PACKAGES.join(",")}`, SUITE, out];
}

/**
 * Builds the tarball when it is missing and unpacks it once into the cache (every boot mounts an overlay over the
 * unpacked tree: no boot re-extracts it, none can change it). Both steps run under one lock file, so .ci/run can
 * start the build in the background while the first tests run, and a boot test that gets there first waits for it
 * instead of building it twice. A half-written tarball never counts (built under a temporary name).
 */
export function ensureLowerDir(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): string {
  const tar = rootfsTarball();
  const lower = path.join(cacheDir(), "lower");
  const stamp = path.join(cacheDir(), "lower.done");
  const ready = () => fs.existsSync(stamp) && fs.existsSync(tar) && fs.statSync(stamp).mtimeMs >= fs.statSync(tar).mtimeMs;
  if (ready()) return lower;
  fs.mkdirSync(cacheDir(), { recursive: true });
  if (!fs.existsSync(tar)) log(`boot test: building the ${SUITE} root filesystem with mmdebstrap into ${tar} (3–7 minutes, once per machine)`);
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const script = [
    "set -e",
    `if [ ! -f ${q(tar)} ]; then rm -f ${q(`${tar}.tmp`)}; mmdebstrap ${mmdebstrapArgs(`${tar}.tmp`).map(q).join(" ")}; mv ${q(`${tar}.tmp`)} ${q(tar)}; fi`,
    `if [ ! -f ${q(stamp)} ] || [ ${q(tar)} -nt ${q(stamp)} ]; then rm -rf ${q(lower)} ${q(stamp)}; mkdir -p ${q(lower)}; tar --numeric-owner -xpf ${q(tar)} -C ${q(lower)}; touch ${q(stamp)}; fi`,
  ].join("\n");
  const res = spawnSync("flock", ["-w", "1800", path.join(cacheDir(), "build.lock"), "sh", "-c", script], { stdio: ["ignore", "inherit", "inherit"], timeout: 35 * 60_000 });
  if (res.status !== 0 || !ready()) throw new Error(`cannot build or unpack the boot test's root filesystem in ${cacheDir()} (exit ${res.status ?? res.signal}); see the output above`);
  return lower;
}

if (require.main === module) {
  const arg = process.argv[2];
  if (arg === "--path") console.log(rootfsTarball());
  else if (arg === "--ensure") {
    ensureLowerDir();
    console.log(rootfsTarball());
  } else {
    console.error("usage: tsx tests/boot/rootfs.ts --ensure | --path");
    process.exit(2);
  }
}
