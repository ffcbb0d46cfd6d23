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

/** Builds the tarball when it is missing (atomically: a half-written file never counts). Returns its path. */
export function ensureRootfs(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): string {
  const tar = rootfsTarball();
  if (fs.existsSync(tar)) return tar;
  fs.mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${tar}.${process.pid}.tmp`;
  log(`boot test: building the ${SUITE} root filesystem with mmdebstrap into ${tar} (3–7 minutes, once per machine)`);
  const res = spawnSync("mmdebstrap", mmdebstrapArgs(tmp), { stdio: ["ignore", "inherit", "inherit"], timeout: 30 * 60_000 });
  if (res.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`mmdebstrap failed (exit ${res.status ?? res.signal}); see its output above`);
  }
  fs.renameSync(tmp, tar);
  return tar;
}

/**
 * The tarball unpacked once into the cache: every boot mounts an overlay over it, so no boot re-extracts it and
 * no boot can change it. Rebuilt when the tarball is newer than the unpacked tree.
 */
export function ensureLowerDir(): string {
  const tar = ensureRootfs();
  const lower = path.join(cacheDir(), "lower");
  const stamp = path.join(cacheDir(), "lower.done");
  if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= fs.statSync(tar).mtimeMs) return lower;
  fs.rmSync(lower, { recursive: true, force: true });
  fs.rmSync(stamp, { force: true });
  fs.mkdirSync(lower, { recursive: true });
  const res = spawnSync("tar", ["--numeric-owner", "-xpf", tar, "-C", lower], { stdio: "inherit" });
  if (res.status !== 0) throw new Error(`cannot unpack ${tar} (tar exit ${res.status})`);
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return lower;
}

if (require.main === module) {
  const arg = process.argv[2];
  if (arg === "--path") console.log(rootfsTarball());
  else if (arg === "--ensure") {
    console.log(ensureRootfs());
    ensureLowerDir();
  } else {
    console.error("usage: tsx tests/boot/rootfs.ts --ensure | --path");
    process.exit(2);
  }
}
