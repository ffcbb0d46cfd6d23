/**
 * User data and the host agent's scripts: the user data is valid cloud-config, small, secret-free and independent
 * of the service configs; the apply script never formats a device that holds a filesystem (run against fake
 * blkid/mkfs/mount); the sync script refuses an archive whose SHA-256 does not match the published checksum.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { StackConfig } from "../config/stack-config";
import { hostEnv, servicesTsv } from "../hostfiles/agent";
import { nodeExporterFlags } from "../hostfiles/services/flags";
import { OTLP_SERVER_CERT_PATH } from "../hostfiles/services/otelcol";
import { freePort, startDaemon, stopAll, withFlags } from "./support/daemons";
import { buildBundle, renderBundle } from "../hostfiles/bundle";
import { assertNoSecrets, readableSecretValues } from "../hostfiles/leak-check";
import { renderHostFiles } from "../hostfiles/host-files";
import { DATA_DEVICE_NAME, DATA_FS_LABEL, SERVICES, SYNC_USER, XFS_LABEL_MAX } from "../layout/host-layout";
import { placeholderBundleContext, placeholderUserDataContext } from "../layout/host-file";
import { AGENT } from "../hostfiles/units";
import { AUTHORIZED_KEYS_DIR, SSHD_DROP_IN, sshdDropIn } from "../hostfiles/ssh-access";
import { bootstrapEnv, PER_BOOT_BOOTSTRAP, renderUserData, USER_DATA_LIMIT_BYTES } from "../hostfiles/user-data";
import { hostScript, renderTemplate } from "../hostfiles/templates";
import { shellScripts } from "../scripts/render";
import { COMPONENTS, unpinnedReleases } from "../config/release-manifest";
import { arm64Overrides, secretValues, stackConfig, standInReleaseDigests } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

/** Debian's node_exporter (package prometheus-node-exporter, pulled in by prometheus). */
const NODE_EXPORTER_BIN = "/usr/bin/prometheus-node-exporter";

/** A syntactically valid OpenSSH ed25519 public key line (random key body). */
function ed25519Key(comment: string): string {
  const type = Buffer.from("ssh-ed25519");
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const body = Buffer.concat([len(type.length), type, len(32), createHash("sha256").update(comment).digest()]);
  return `ssh-ed25519 ${body.toString("base64")} ${comment}`;
}

type WriteFile = { path: string; content: string; permissions: string };
const writeFiles = (userData: string) => (YAML.parse(userData) as { write_files: WriteFile[] }).write_files;

for (const stack of ["dev", "prd"]) {
  describe(`user data (${stack})`, () => {
    const cfg = stackConfig(stack);
    const ctx = placeholderBundleContext(stack);
    const udCtx = placeholderUserDataContext(stack);
    const userData = renderUserData(cfg, udCtx);
    let tmp: ReturnType<typeof tempDir>;
    before(() => (tmp = tempDir()));
    after(() => tmp.cleanup());

    it("is valid cloud-config (`cloud-init schema`)", function () {
      requireTool(this, "cloud-init");
      const f = path.join(tmp.dir, "user-data.yaml");
      fs.writeFileSync(f, userData);
      const res = run("cloud-init", ["schema", "--config-file", f]);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /Valid cloud-config/);
    });

    it("fits EC2's 16 KB user data limit with room to spare", () => {
      const size = Buffer.byteLength(userData, "utf8");
      console.log(`      user data (${stack}): ${size} bytes of ${USER_DATA_LIMIT_BYTES}`);
      assert.ok(size < USER_DATA_LIMIT_BYTES, `${size} bytes`);
      // The bundle carries the rest; user data stays a bootstrap.
      assert.ok(size < USER_DATA_LIMIT_BYTES * 0.75, `user data grew to ${size} bytes`);
    });

    it("contains no secret value, and neither does the bundle", () => {
      const bundle = renderBundle(cfg, ctx);
      for (const secret of secretValues(stack)) {
        assert.ok(!userData.includes(secret), "a secret value is in the user data");
        assert.ok(!bundle.includes(secret), "a secret value is in the bundle");
      }
      // The secrets are referenced by SSM parameter name only.
      const doc = JSON.parse(bundle) as { secrets: { parameter: string }[] };
      assert.ok(doc.secrets.length >= 2);
    });

    it("names the bundle, the region and the data volume, and bootstraps from a per-boot script", () => {
      const env = writeFiles(userData).find((f) => f.path.endsWith("/bootstrap.env"))!;
      assert.match(env.content, new RegExp(`^CONFIG_BUCKET=${udCtx.configBucket}$`, "m"));
      assert.match(env.content, new RegExp(`^CONFIG_KEY=${udCtx.configObjectKey}$`, "m"));
      assert.match(env.content, new RegExp(`^DATA_VOLUME_ID=${udCtx.dataVolumeId}$`, "m"));
      assert.match(env.content, new RegExp(`^AWS_REGION=${cfg.region}$`, "m"));
      const doc = YAML.parse(userData) as { runcmd?: unknown };
      assert.equal(doc.runcmd, undefined, "no once-only runcmd: a failed first boot must be retried at the next boot");
      const perBoot = writeFiles(userData).find((f) => f.path === PER_BOOT_BOOTSTRAP)!;
      assert.equal(perBoot.permissions, "0755");
      assert.match(perBoot.content, new RegExp(`exec ${AGENT.syncScript} --bootstrap`));
    });

    it("ships the same sync script as the bundle, and it passes shellcheck", function () {
      requireTool(this, "shellcheck");
      const embedded = writeFiles(userData).find((f) => f.path === AGENT.syncScript)!;
      assert.equal(embedded.permissions, "0755");
      const inBundle = buildBundle(cfg, ctx).files.find((f) => f.path === AGENT.syncScript)!;
      assert.equal(embedded.content, inBundle.content);
      const f = path.join(tmp.dir, "embedded-sync.sh");
      fs.writeFileSync(f, embedded.content);
      const res = run("shellcheck", [f]);
      assert.equal(res.status, 0, res.stdout);
    });
  });
}

describe("user data stability", () => {
  const ctx = placeholderBundleContext("dev");
  const udCtx = placeholderUserDataContext("dev");

  // The OTLP certificate, the telemetry buckets, secret versions and the automation key are not even in user data's
  // context (UserDataContext): a change of them cannot reach it.
  it("does not change when only service configs change (the bundle does)", () => {
    const a = stackConfig("dev");
    const b = stackConfig("dev", { metricsRetention: "9d", logsRetention: "3d" });
    assert.notEqual(renderBundle(a, ctx), renderBundle(b, ctx));
    assert.equal(renderUserData(a, udCtx), renderUserData(b, udCtx));
  });

  it("does change with what it names: the data volume", () => {
    const cfg = stackConfig("dev");
    assert.notEqual(renderUserData(cfg, udCtx), renderUserData(cfg, { ...udCtx, dataVolumeId: "vol-0123456789abcdef0" }));
  });

  it("renders the same bundle bytes for the same config (stable ETag)", () => {
    const cfg = stackConfig("prd");
    assert.equal(renderBundle(cfg, placeholderBundleContext("prd")), renderBundle(stackConfig("prd"), placeholderBundleContext("prd")));
  });
});

describe("per-boot bootstrap", () => {
  /** Renders the per-boot script with a temp marker and a fake sync step that records its arguments. */
  function perBoot(t: { dir: string }): { script: string; marker: string; log: string } {
    const marker = path.join(t.dir, "applied-etag");
    const log = path.join(t.dir, "sync.log");
    const sync = path.join(t.dir, "monitoring-sync");
    fs.writeFileSync(sync, `#!/bin/bash\necho "$*" >>${log}\n`, { mode: 0o755 });
    const script = path.join(t.dir, "per-boot");
    fs.writeFileSync(script, renderTemplate("host/per-boot-bootstrap.sh.hbs", { appliedMarker: marker, syncScript: sync }), { mode: 0o755 });
    return { script, marker, log };
  }

  it("bootstraps while no bundle was ever applied (first boot, or a reboot after a failed one)", () => {
    const t = tempDir();
    try {
      const p = perBoot(t);
      assert.equal(run(p.script, []).status, 0);
      assert.equal(fs.readFileSync(p.log, "utf8"), "--bootstrap\n");
    } finally {
      t.cleanup();
    }
  });

  it("does nothing once a bundle is applied (the sync timer keeps the host current)", () => {
    const t = tempDir();
    try {
      const p = perBoot(t);
      fs.writeFileSync(p.marker, '"etag-1"\n');
      assert.equal(run(p.script, []).status, 0);
      assert.equal(fs.existsSync(p.log), false);
    } finally {
      t.cleanup();
    }
  });
});

describe("SSH access", () => {
  const ctx = placeholderBundleContext("dev");
  const keys = [ed25519Key("alice@oncall"), ed25519Key("bob@oncall")];
  const udCtx = placeholderUserDataContext("dev");
  const bundleFile = (cfg: StackConfig, p: string, c = ctx) => renderHostFiles(cfg, c).find((f) => f.path === p);

  it("keeps keys out of user data: rotating a key never changes it (no stop/start of the instance)", () => {
    const without = renderUserData(stackConfig("dev"), udCtx);
    const withKeys = renderUserData(stackConfig("dev", { sshAuthorizedKeys: keys }), udCtx);
    assert.equal(withKeys, without);
    assert.ok(!withKeys.includes(keys[0].split(" ")[1]));
  });

  it("delivers the keys in the bundle, one per line, for the login user, the automation key last, and reloads sshd for its drop-in", () => {
    const cfg = stackConfig("dev", { sshAuthorizedKeys: keys });
    const automationKey = ed25519Key("automation");
    // As tls.PrivateKey gives it: with a trailing newline.
    const file = bundleFile(cfg, `${AUTHORIZED_KEYS_DIR}/ec2-user`, { ...ctx, automationPublicKey: `${automationKey}\n` });
    assert.ok(file, "authorized_keys file for ec2-user");
    const lines = file.content.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(lines, [...keys, automationKey]);
    assert.equal(file.owner, "root:root");
    const dropIn = bundleFile(cfg, SSHD_DROP_IN);
    assert.deepEqual(dropIn?.onChange, { unit: "sshd.service", action: "reload" });
  });

  it("sshd accepts the drop-in and reads the bundle's keys file for every user", function () {
    requireTool(this, "/usr/sbin/sshd");
    requireTool(this, "ssh-keygen");
    const t = tempDir();
    try {
      // sshd's test mode insists on its privilege-separation directory (created by its package's service at boot).
      fs.mkdirSync("/run/sshd", { recursive: true });
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(t.dir, "hostkey")]);
      fs.writeFileSync(path.join(t.dir, "drop-in.conf"), sshdDropIn());
      fs.writeFileSync(path.join(t.dir, "sshd_config"), `Include ${t.dir}/drop-in.conf\nHostKey ${t.dir}/hostkey\n`);
      const check = run("/usr/sbin/sshd", ["-t", "-f", path.join(t.dir, "sshd_config")]);
      assert.equal(check.status, 0, check.stderr);
      const effective = run("/usr/sbin/sshd", ["-T", "-f", path.join(t.dir, "sshd_config"), "-C", "user=ec2-user,host=h,addr=10.0.0.1"]);
      assert.equal(effective.status, 0, effective.stderr);
      assert.match(effective.stdout, new RegExp(`^authorizedkeysfile \\.ssh/authorized_keys ${AUTHORIZED_KEYS_DIR}/%u$`, "m"));
      assert.match(effective.stdout, /^passwordauthentication no$/m);
      assert.match(effective.stdout, /^permitrootlogin no$/m);
    } finally {
      t.cleanup();
    }
  });

  it("creates another login user (without keys: they come from the bundle), keeping the default user", function () {
    const cfg: StackConfig = stackConfig("dev", { sshAuthorizedKeys: keys, sshUser: "oncall" });
    const userData = renderUserData(cfg, udCtx);
    const doc = YAML.parse(userData) as { users: (string | { name: string; ssh_authorized_keys?: string[] })[] };
    assert.equal(doc.users[0], "default");
    const user = doc.users[1] as { name: string; ssh_authorized_keys?: string[] };
    assert.equal(user.name, "oncall");
    assert.equal(user.ssh_authorized_keys, undefined);
    assert.ok(bundleFile(cfg, `${AUTHORIZED_KEYS_DIR}/oncall`));
    requireTool(this, "cloud-init");
    const t = tempDir();
    try {
      fs.writeFileSync(path.join(t.dir, "ud.yaml"), userData);
      const res = run("cloud-init", ["schema", "--config-file", path.join(t.dir, "ud.yaml")]);
      assert.equal(res.status, 0, res.stderr);
    } finally {
      t.cleanup();
    }
  });
});

/**
 * Runs one function of a host script (sourced, so `main` does not run) with PATH starting at `fakeBin`.
 */
function runScriptFunction(script: string, call: string, env: Record<string, string>, fakeBin: string) {
  const dir = path.dirname(fakeBin);
  const file = path.join(dir, `script-${path.basename(script)}.sh`);
  fs.writeFileSync(file, hostScript(script as "monitoring-apply.sh"));
  return run("env", [
    `PATH=${fakeBin}:/usr/bin:/bin`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    "bash",
    "-c",
    `set -euo pipefail; source "${file}"; ${call}`,
  ]);
}

/** Writes an executable fake tool into `bin`. */
function fake(bin: string, name: string, body: string): void {
  fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

// Wiring against fakes. Shown for real by tests/boot/boot.spec.ts: a blank volume formatted and mounted by UUID with
// nofail (first boot), an existing filesystem kept (host replacement), a partition table never formatted (its own
// boot), the attachment's device name used without the Nitro link (/dev/sdf throughout), a second run with the volume
// mounted touching nothing (config change), the sandboxed apply stopping at once when the volume is unmounted.
// NOT shown by a boot (no hot-plug into a container, and a real blkid that fails cannot be provoked safely): the
// bounded wait for a late volume, the probe error, replacing another volume's fstab line.
describe("apply: data volume (fake blkid, mkfs.xfs, mount)", () => {
  const VOL = "vol-0abc123def4567890";
  let t: ReturnType<typeof tempDir>;
  let bin: string, dev: string, state: string, log: string, fstab: string, mnt: string;

  beforeEach(() => {
    t = tempDir("monhost-vol-");
    bin = path.join(t.dir, "bin");
    dev = path.join(t.dir, "dev");
    state = path.join(t.dir, "state");
    log = path.join(t.dir, "calls.log");
    fstab = path.join(t.dir, "fstab");
    mnt = path.join(t.dir, "mnt", "monitoring");
    for (const d of [bin, dev, state, path.join(dev, "disk", "by-id")]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(log, "");
    fs.writeFileSync(fstab, "# static table\nUUID=1111 / xfs defaults 0 0\n");
    // blkid: the device's content is $STATE/fs (a filesystem type), $STATE/pt (a partition table only),
    // $STATE/error (probe fails), else blank (exit 2, like the real one).
    fake(
      bin,
      "blkid",
      `echo "blkid $*" >> "${log}"
if [ -f "${state}/error" ]; then exit 4; fi
if [ -f "${state}/fs" ]; then
  case "$*" in
    *"-s UUID"*) echo "uuid-$(cat "${state}/fs")-42" ;;
    *"-s TYPE"*) cat "${state}/fs" ;;
    *) echo "DEVNAME=\${@: -1}"; echo "UUID=uuid-$(cat "${state}/fs")-42"; echo "TYPE=$(cat "${state}/fs")" ;;
  esac
  exit 0
fi
if [ -f "${state}/pt" ]; then echo "DEVNAME=\${@: -1}"; echo "PTTYPE=gpt"; exit 0; fi
exit 2`,
    );
    fake(bin, "mkfs.xfs", `echo "mkfs.xfs $*" >> "${log}"; echo xfs > "${state}/fs"`);
    fake(bin, "mount", `echo "mount $*" >> "${log}"; touch "${state}/mounted"`);
    fake(bin, "mountpoint", `echo "mountpoint $*" >> "${log}"; [ -f "${state}/mounted" ]`);
    fake(bin, "systemctl", `echo "systemctl $*" >> "${log}"`);
    fake(bin, "sleep", `echo "sleep $*" >> "${log}"; if [ -f "${state}/appear-on-sleep" ]; then touch "$(cat "${state}/appear-on-sleep")"; fi`);
  });
  afterEach(() => t.cleanup());

  const nvme = () => path.join(dev, "disk", "by-id", `nvme-Amazon_Elastic_Block_Store_${VOL.replace("-", "")}`);
  const env = (extra: Record<string, string> = {}) => ({
    DEV_ROOT: dev,
    FSTAB: fstab,
    DATA_MOUNT: mnt,
    DATA_DEVICE_NAME,
    DATA_FS_LABEL,
    DATA_VOLUME_ID: VOL,
    DEVICE_WAIT_SECONDS: "10",
    DEVICE_POLL_SECONDS: "2",
    // The fake mount leaves the directory on the test's filesystem: compare it with another one as "the root".
    ROOT_FS: "/proc",
    ...extra,
  });
  const prepare = (extra: Record<string, string> = {}) => runScriptFunction("monitoring-apply.sh", "prepare_data_volume", env(extra), bin);
  const calls = () => fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
  const fstabLines = () => fs.readFileSync(fstab, "utf8").trim().split("\n");

  it("keeps an existing filesystem: no mkfs, mounted by UUID with nofail", () => {
    fs.writeFileSync(nvme(), "");
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.ok(!calls().some((c) => c.startsWith("mkfs")), calls().join("\n"));
    assert.ok(calls().includes(`mount ${mnt}`), calls().join("\n"));
    const line = fstabLines().find((l) => l.split(/\s+/)[1] === mnt)!;
    assert.match(line, /^UUID=uuid-xfs-42 \S+ xfs \S*nofail\S* 0 2$/);
    assert.match(res.stdout, /already has a filesystem/);
  });

  it("formats a blank device once, with the label, then mounts it", () => {
    fs.writeFileSync(nvme(), "");
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(
      calls().filter((c) => c.startsWith("mkfs")),
      [`mkfs.xfs -L ${DATA_FS_LABEL} ${nvme()}`],
    );
    assert.ok(fstabLines().some((l) => l.startsWith("UUID=uuid-xfs-42 ")));
  });

  it("refuses to format a device that has a partition table but no filesystem", () => {
    fs.writeFileSync(nvme(), "");
    fs.writeFileSync(path.join(state, "pt"), "");
    const res = prepare();
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /refusing to format/);
    assert.ok(!calls().some((c) => c.startsWith("mkfs") || c.startsWith("mount ")), calls().join("\n"));
  });

  it("does not format when blkid itself fails", () => {
    fs.writeFileSync(nvme(), "");
    fs.writeFileSync(path.join(state, "error"), "");
    const res = prepare();
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /not formatting/);
    assert.ok(!calls().some((c) => c.startsWith("mkfs")));
  });

  it("is idempotent: a second run with the volume mounted touches nothing", () => {
    fs.writeFileSync(nvme(), "");
    assert.equal(prepare().status, 0);
    const before = fs.readFileSync(fstab, "utf8");
    fs.writeFileSync(log, "");
    assert.equal(prepare().status, 0);
    assert.deepEqual(calls(), [`mountpoint -q ${mnt}`]);
    assert.equal(fs.readFileSync(fstab, "utf8"), before);
  });

  it("after an instance replacement, replaces the old fstab line for the mount point and keeps the others", () => {
    fs.writeFileSync(nvme(), "");
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    fs.appendFileSync(fstab, `UUID=old-volume ${mnt} xfs defaults,nofail 0 2\n`);
    assert.equal(prepare().status, 0);
    const lines = fstabLines();
    assert.equal(lines.filter((l) => l.split(/\s+/)[1] === mnt).length, 1);
    assert.ok(lines.includes("UUID=1111 / xfs defaults 0 0"));
    assert.ok(!lines.some((l) => l.includes("old-volume")));
    // Running again on the same (unmounted) volume adds nothing.
    fs.rmSync(path.join(state, "mounted"));
    assert.equal(prepare().status, 0);
    assert.equal(fstabLines().filter((l) => l.split(/\s+/)[1] === mnt).length, 1);
  });

  it("waits for a volume that is attached after boot", () => {
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    fs.writeFileSync(path.join(state, "appear-on-sleep"), nvme());
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.ok(calls().some((c) => c.startsWith("sleep")));
    assert.ok(calls().includes(`mount ${mnt}`));
  });

  it("gives up after a bounded wait when the volume never appears", () => {
    const res = prepare({ DEVICE_WAIT_SECONDS: "6", DEVICE_POLL_SECONDS: "2" });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`data volume ${VOL} did not appear within 6s`));
    assert.equal(calls().filter((c) => c.startsWith("sleep")).length, 3);
    assert.ok(!calls().some((c) => c.startsWith("mkfs") || c.startsWith("mount ")));
  });

  it("in the sandboxed apply service, fails at once instead of waiting for a device it cannot see", () => {
    const res = prepare({ APPLY_CAN_MOUNT: "no", BIN_ROOT: "/usr/local/lib/monitoring-host" });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /is not mounted and this sandboxed run cannot mount it/);
    assert.ok(!calls().some((c) => c.startsWith("sleep") || c.startsWith("blkid") || c.startsWith("mkfs")));
  });

  it("falls back to the attachment's device name on instances without NVMe", () => {
    fs.writeFileSync(path.join(dev, DATA_DEVICE_NAME.replace("/dev/", "")), "");
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.ok(calls().some((c) => c.startsWith("blkid") && c.endsWith(path.join(dev, "sdf"))), calls().join("\n"));
  });
});

describe("sync: release downloads are verified against the pinned SHA-256 (fake curl)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string, served: string, log: string;
  const artifact = "prometheus-9.9.9.linux-amd64.tar.gz";
  const content = "pretend this is a release archive\n";
  const sha = createHash("sha256").update(content).digest("hex");

  beforeEach(() => {
    t = tempDir("monhost-sync-");
    bin = path.join(t.dir, "bin");
    served = path.join(t.dir, "served");
    log = path.join(t.dir, "curl.log");
    fs.mkdirSync(bin);
    fs.mkdirSync(served);
    fs.writeFileSync(path.join(served, artifact), content);
    // A release that also publishes a checksum file listing the archive: the sync step must never rely on it.
    fs.writeFileSync(path.join(served, "sha256sums.txt"), `${sha}  ${artifact}\n`);
    // curl -o <file> <url>: serves files from $served by the URL's last path segment.
    fake(
      bin,
      "curl",
      `out=""; url=""
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
echo "$url" >>"${log}"
[ -f "${served}/\${url##*/}" ] || exit 22
cp "${served}/\${url##*/}" "$out"`,
    );
  });
  afterEach(() => t.cleanup());

  const fetch = (pinned: string) => {
    const dir = path.join(t.dir, "artifacts", "prometheus-9.9.9");
    const res = runScriptFunction("monitoring-sync.sh", `fetch_artifact "${dir}" "${artifact}" "https://example.invalid/v9.9.9/${artifact}" "${pinned}"`, {}, bin);
    const urls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    return { res, dir, urls };
  };

  it("keeps an archive whose SHA-256 equals the pinned one, downloading nothing but the archive", () => {
    const { res, dir, urls } = fetch(sha);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.readFileSync(path.join(dir, artifact), "utf8"), content);
    assert.deepEqual(urls, [`https://example.invalid/v9.9.9/${artifact}`], "no checksum file from the release's origin");
  });

  it("refuses a tampered release even when the release's own checksum file agrees with it", () => {
    const tampered = "a tampered archive\n";
    fs.writeFileSync(path.join(served, artifact), tampered);
    const tamperedSha = createHash("sha256").update(tampered).digest("hex");
    fs.writeFileSync(path.join(served, "sha256sums.txt"), `${tamperedSha}  ${artifact}\n`);
    const { res, dir } = fetch(sha);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`checksum mismatch for ${artifact.replace(/\./g, "\\.")}: pinned ${sha}, downloaded ${tamperedSha} .*; not installing it`));
    assert.ok(!fs.existsSync(dir) && !fs.existsSync(`${dir}.tmp`), "nothing of it is kept");
  });

  it("an arm64 stack's releaseDigests reach the host: the rendered versions.tsv and bundle carry them, and the download is verified against them", function () {
    const [u] = unpinnedReleases("arm64");
    if (u === undefined) this.skip(); // every arm64 archive pinned in config/release-manifest.ts: nothing the operator supplies
    const archive = `pretend this is ${u.artifact}\n`;
    const operatorSha = createHash("sha256").update(archive).digest("hex");
    const cfg = stackConfig("dev", { ...arm64Overrides("t4g.large"), releaseDigests: { ...standInReleaseDigests("arm64"), [u.key]: operatorSha } });
    const bundle = buildBundle(cfg, placeholderBundleContext("dev"));
    assert.deepEqual(
      bundle.versions.filter((v) => v.name === u.name).map((v) => [v.artifact, v.sha256, v.pinnedBy]),
      [[u.artifact, operatorSha, "releaseDigests"]],
    );
    const rendered = bundle.files.find((f) => f.path.endsWith("/versions.tsv"))!.content;
    const row = rendered.split("\n").find((r) => r.startsWith(`${u.name}\t`))!;
    assert.equal(row.split("\t")[5], operatorSha);
    // The host's sync step, as it runs: reads the row, downloads the archive, keeps it only if it has that digest.
    const tsv = path.join(t.dir, "versions.tsv");
    fs.writeFileSync(tsv, `${row}\n`);
    const env = { SYNC_DIR: path.join(t.dir, "sync"), BIN_ROOT: path.join(t.dir, "binroot") };
    const kept = path.join(env.SYNC_DIR, "artifacts", `${u.name}-${COMPONENTS[u.name].version}`, u.artifact);
    fs.writeFileSync(path.join(served, u.artifact), "a tampered archive\n");
    let res = runScriptFunction("monitoring-sync.sh", `fetch_artifacts "${tsv}"`, env, bin);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`checksum mismatch for ${u.artifact.replace(/\./g, "\\.")}: pinned ${operatorSha}`));
    assert.ok(!fs.existsSync(kept));
    fs.writeFileSync(path.join(served, u.artifact), archive);
    res = runScriptFunction("monitoring-sync.sh", `fetch_artifacts "${tsv}"`, env, bin);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`verified ${u.artifact.replace(/\./g, "\\.")} \\(${operatorSha}\\)`));
    assert.equal(fs.readFileSync(kept, "utf8"), archive);
    assert.ok(fs.readFileSync(log, "utf8").trim().split("\n").every((url) => url === u.url), "downloads the pinned URL and nothing else");
  });

  it("refuses an archive that has no pinned digest, without downloading it", () => {
    const { res, dir, urls } = fetch("-");
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`no pinned SHA-256 for ${artifact.replace(/\./g, "\\.")} in the bundle \\(config/release-manifest\\.ts or the stack.s releaseDigests\\)`));
    assert.deepEqual(urls, []);
    assert.ok(!fs.existsSync(dir));
  });
});

// Wiring (fake archives). Shown for real by the boot test: every pinned archive downloaded by curl, verified, installed
// and started (first boot); only the changed files rewritten and only their unit reloaded (config change).
describe("apply: binaries and files", () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir("monhost-apply-")));
  afterEach(() => t.cleanup());

  /** A downloaded artifact in the sync directory, and a versions.tsv pinning `pinned` (default: its real digest). */
  function stage(pinned?: string) {
    const stateDir = path.join(t.dir, "state");
    const src = path.join(t.dir, "src", "tool-1.0.0.linux-amd64");
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, "tool"), "#!/bin/sh\necho tool 1.0.0\n");
    const artDir = path.join(stateDir, "sync", "artifacts", "tool-1.0.0");
    fs.mkdirSync(artDir, { recursive: true });
    const artifact = "tool-1.0.0.linux-amd64.tar.gz";
    assert.equal(run("tar", ["-czf", path.join(artDir, artifact), "-C", path.dirname(src), path.basename(src)]).status, 0);
    const sha = createHash("sha256").update(fs.readFileSync(path.join(artDir, artifact))).digest("hex");
    const dest = path.join(t.dir, "usr", "local", "bin", "tool");
    const tsv = path.join(t.dir, "versions.tsv");
    fs.writeFileSync(tsv, ["tool", "1.0.0", "tool.service", artifact, "u", pinned ?? sha, "tar.gz", `tool-1.0.0.linux-amd64/tool=${dest}`].join("\t") + "\n");
    const env = { STATE_DIR: stateDir, BIN_ROOT: path.join(t.dir, "binroot") };
    return { tsv, dest, env };
  }
  const bin = () => {
    const b = path.join(t.dir, "fakebin");
    fs.mkdirSync(b, { recursive: true });
    return b;
  };

  it("installs a verified binary once, records its version and queues a restart of its unit", () => {
    const { tsv, dest, env } = stage();
    const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${tsv}"; echo "actions: \${ACTIONS[tool.service]}"; install_binaries "${tsv}"`, env, bin());
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.readFileSync(dest, "utf8"), "#!/bin/sh\necho tool 1.0.0\n");
    assert.equal(fs.statSync(dest).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(env.BIN_ROOT, "installed", "tool"), "utf8"), "1.0.0\n");
    assert.match(res.stdout, /actions: restart/);
    assert.equal(res.stdout.match(/installed tool 1\.0\.0/g)?.length, 1, "the second run must skip the installed version");
  });

  it("swaps in a whole tree from the archive's single top-level directory (Grafana)", () => {
    const stateDir = path.join(t.dir, "state");
    const src = path.join(t.dir, "src", "grafana-v9.9.9");
    fs.mkdirSync(path.join(src, "bin"), { recursive: true });
    fs.mkdirSync(path.join(src, "public"));
    fs.writeFileSync(path.join(src, "bin", "grafana"), "#!/bin/sh\n");
    const artifact = "grafana_9.9.9_1_linux_amd64.tar.gz";
    const artDir = path.join(stateDir, "sync", "artifacts", "grafana-9.9.9");
    fs.mkdirSync(artDir, { recursive: true });
    assert.equal(run("tar", ["-czf", path.join(artDir, artifact), "-C", path.dirname(src), path.basename(src)]).status, 0);
    const sha = createHash("sha256").update(fs.readFileSync(path.join(artDir, artifact))).digest("hex");
    const home = path.join(t.dir, "opt", "grafana");
    fs.mkdirSync(path.join(home, "old-release-only"), { recursive: true });
    const tsv = path.join(t.dir, "versions.tsv");
    fs.writeFileSync(tsv, ["grafana", "9.9.9", "grafana.service", artifact, "u", sha, "tar.gz", `tree:*=${home}`].join("\t") + "\n");
    const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${tsv}"`, { STATE_DIR: stateDir, BIN_ROOT: path.join(t.dir, "binroot") }, bin());
    assert.equal(res.status, 0, res.stderr);
    assert.ok(fs.existsSync(path.join(home, "bin", "grafana")));
    assert.ok(fs.existsSync(path.join(home, "public")));
    assert.ok(!fs.existsSync(path.join(home, "old-release-only")), "the old tree is replaced, not merged");
    assert.ok(!fs.existsSync(`${home}.old`) && !fs.existsSync(`${home}.new`));
  });

  it("refuses to install an archive that does not match the pinned digest, or has none", () => {
    for (const [pinned, message] of [
      ["b".repeat(64), /checksum mismatch for .*tool-1\.0\.0\.linux-amd64\.tar\.gz \(pinned b{64}\); not installing tool 1\.0\.0/],
      ["-", /no pinned SHA-256 for tool-1\.0\.0\.linux-amd64\.tar\.gz in the bundle \(config\/release-manifest\.ts or the stack.s releaseDigests\); not installing tool 1\.0\.0/],
    ] as const) {
      const { tsv, dest, env } = stage(pinned);
      const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${tsv}"`, env, bin());
      assert.notEqual(res.status, 0);
      assert.match(res.stderr, message);
      assert.ok(!fs.existsSync(dest));
      assert.ok(!fs.existsSync(path.join(env.BIN_ROOT, "installed", "tool")));
    }
  });

  it("rewrites only changed files and queues only their units' actions", () => {
    const root = path.join(t.dir, "bundle");
    const target = (n: string) => path.join(t.dir, "etc", n);
    const entries = [
      [target("a.yml"), "0640", "root:root", "a.service", "reload"],
      [target("b.yml"), "0644", "root:root", "b.service", "restart"],
    ];
    const write = (contents: Record<string, string>) => {
      for (const [p] of entries) {
        fs.mkdirSync(path.dirname(path.join(root, "files", p)), { recursive: true });
        fs.writeFileSync(path.join(root, "files", p), contents[path.basename(p)]);
      }
      fs.writeFileSync(path.join(root, "files.tsv"), entries.map((e) => e.join("\t")).join("\n") + "\n");
    };
    const apply = () =>
      runScriptFunction(
        "monitoring-apply.sh",
        `install_files "${root}"; for u in "\${!ACTIONS[@]}"; do echo "action $u \${ACTIONS[$u]}"; done`,
        { UNIT_DIR: path.join(t.dir, "units") },
        bin(),
      );
    write({ "a.yml": "a: 1\n", "b.yml": "b: 1\n" });
    let res = apply();
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.statSync(target("a.yml")).mode & 0o777, 0o640);
    assert.match(res.stdout, /action a\.service reload/);
    assert.match(res.stdout, /action b\.service restart/);

    write({ "a.yml": "a: 2\n", "b.yml": "b: 1\n" });
    res = apply();
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /action a\.service reload/);
    assert.doesNotMatch(res.stdout, /b\.service/);
    assert.equal(fs.readFileSync(target("a.yml"), "utf8"), "a: 2\n");

    res = apply();
    assert.doesNotMatch(res.stdout, /action|updated/);
  });
});

describe("apply: a unit that does not come back fails the apply (fake systemctl)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string, state: string, sys: string;
  const units = ["monitoring-secrets.service", "prometheus.service", "loki.service", "grafana.service"];

  beforeEach(() => {
    t = tempDir("monhost-units-");
    bin = path.join(t.dir, "bin");
    state = path.join(t.dir, "state");
    sys = path.join(t.dir, "systemd");
    for (const d of [bin, path.join(state, "sync"), path.join(sys, "active"), path.join(sys, "pid")]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(state, "sync", "etag"), '"etag-2"\n');
    fs.writeFileSync(path.join(state, "applied-etag"), '"etag-1"\n');
    for (const u of units) {
      fs.writeFileSync(path.join(sys, "active", u), "");
      fs.writeFileSync(path.join(sys, "pid", u), "100\n");
    }
    // A tiny systemd: units are active while $S/active/<unit> exists; `restart` of a unit listed in $S/fail fails,
    // one listed in $S/crash exits after forking and is restarted by Restart=on-failure (a new main PID).
    fake(
      bin,
      "systemctl",
      `S=${sys}; echo "systemctl $*" >>"$S/calls"
case $1 in
  is-active) u=\${!#}; if [ -e "$S/active/$u" ]; then [ "$2" = --quiet ] || echo active; exit 0; fi; [ "$2" = --quiet ] || echo activating; exit 3 ;;
  show) u=\${!#}; cat "$S/pid/$u" ;;
  restart|reload-or-restart)
    grep -qx "$2" "$S/fail" 2>/dev/null && exit 1
    echo 200 >"$S/pid/$2"
    if grep -qx "$2" "$S/crash" 2>/dev/null; then (sleep 0.2; echo 201 >"$S/pid/$2") & fi
    exit 0 ;;
esac
exit 0`,
    );
    fake(bin, "journalctl", 'echo "journal of $2: error loading config"');
    fake(bin, "sleep", "exec /bin/sleep 0.5");
  });
  afterEach(() => t.cleanup());

  const apply = (actions: Record<string, string>) =>
    runScriptFunction(
      "monitoring-apply.sh",
      `${Object.entries(actions)
        .map(([u, a]) => `ACTIONS[${u}]=${a}`)
        .join("; ")}; activate_and_record`,
      { STATE_DIR: state, ENABLED_UNITS: units.join(" "), RESTART_SETTLE_SECONDS: "1" },
      bin,
    );
  const applied = () => fs.readFileSync(path.join(state, "applied-etag"), "utf8").trim();
  const calls = () => fs.readFileSync(path.join(sys, "calls"), "utf8");

  it("records the bundle when every changed unit restarted and stayed up", () => {
    const res = apply({ "prometheus.service": "reload", "loki.service": "restart" });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(applied(), '"etag-2"');
    assert.match(calls(), /systemctl reload-or-restart prometheus\.service/);
    assert.match(calls(), /systemctl restart loki\.service/);
    assert.doesNotMatch(calls(), /restart grafana\.service/, "only the changed units are touched");
    assert.ok(!fs.existsSync(path.join(state, "apply-failed")));
  });

  it("does not record the bundle when a restart fails, and names the unit with its journal", () => {
    fs.writeFileSync(path.join(sys, "fail"), "loki.service\n");
    const res = apply({ "loki.service": "restart", "grafana.service": "restart" });
    assert.notEqual(res.status, 0);
    assert.equal(applied(), '"etag-1"', "the failed bundle must not be recorded as applied");
    assert.match(res.stderr, /loki\.service did not reload\/restart and stay up/);
    assert.match(res.stderr, /journal of loki\.service: error loading config/);
    assert.match(res.stderr, /not recording bundle "etag-2" as applied: loki\.service failed/);
    assert.equal(fs.readFileSync(path.join(state, "apply-failed"), "utf8"), '"etag-2"\nloki.service\n');
    assert.match(calls(), /systemctl restart grafana\.service/, "the other units still get their action");
    assert.match(calls(), /systemctl start --no-block/, "and everything is still started");
  });

  it("does not record the bundle when a restarted service exits and is restarted by systemd (new main PID)", () => {
    fs.writeFileSync(path.join(sys, "crash"), "grafana.service\n");
    const res = apply({ "grafana.service": "restart" });
    assert.notEqual(res.status, 0);
    assert.equal(applied(), '"etag-1"');
    assert.match(res.stderr, /grafana\.service did not reload\/restart and stay up/);
  });

  it("does not record the bundle when a restarted service is no longer active", () => {
    const res = runScriptFunction(
      "monitoring-apply.sh",
      `ACTIONS[prometheus.service]=restart; systemctl() { command systemctl "$@"; [ "$1" = restart ] && rm -f "${sys}/active/$2"; return 0; }; activate_and_record`,
      { STATE_DIR: state, ENABLED_UNITS: units.join(" "), RESTART_SETTLE_SECONDS: "1" },
      bin,
    );
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /prometheus\.service did not reload\/restart and stay up/);
  });

  it("leaves units that were not running to the start (first boot) and records the bundle", () => {
    for (const u of units) fs.rmSync(path.join(sys, "active", u));
    const res = apply({ "loki.service": "restart" });
    assert.equal(res.status, 0, res.stderr);
    assert.doesNotMatch(calls(), /systemctl restart/);
    assert.match(calls(), /systemctl start --no-block monitoring-secrets\.service prometheus\.service/);
    assert.equal(applied(), '"etag-2"');
  });
});

describe("apply: users (fake id, useradd)", () => {
  // Wiring only (fake useradd). The boot test shows the real thing: every service runs as its own user on the
  // booted host, and after a host replacement with shifted uids systemd's StateDirectory= repairs ownership.
  it("creates one system user per service without a login shell, and leaves the data directories to systemd", () => {
    const t = tempDir("monhost-users-");
    try {
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(t.dir, "calls.log");
      fake(bin, "id", `grep -qx "$2" "${t.dir}/existing" 2>/dev/null`);
      fake(bin, "useradd", `echo "useradd $*" >> "${log}"`);
      for (const tool of ["install", "chown", "mkdir"]) fake(bin, tool, `echo "${tool} $*" >> "${log}"`);
      fs.writeFileSync(path.join(t.dir, "existing"), "grafana\n");
      const tsv = path.join(t.dir, "services.tsv");
      fs.writeFileSync(tsv, servicesTsv());
      const res = runScriptFunction("monitoring-apply.sh", `ensure_users "${tsv}"`, {}, bin);
      assert.equal(res.status, 0, res.stderr);
      const calls = fs.readFileSync(log, "utf8").trim().split("\n");
      for (const s of Object.values(SERVICES)) {
        const useradd = `useradd --system --user-group --no-create-home --home-dir / --shell /sbin/nologin ${s.user}`;
        assert.equal(calls.includes(useradd), s.user !== "grafana", s.user);
      }
      assert.ok(calls.includes(`useradd --system --user-group --no-create-home --home-dir / --shell /sbin/nologin ${SYNC_USER}`));
      assert.deepEqual(calls.filter((c) => !c.startsWith("useradd")), [], "the apply step no longer creates or chowns data directories");
    } finally {
      t.cleanup();
    }
  });
});

describe("apply: files dropped from the bundle", () => {
  it("are removed, and their unit gets its action", () => {
    const t = tempDir("monhost-stale-");
    try {
      const keep = path.join(t.dir, "etc", "rules", "keep.yml");
      const gone = path.join(t.dir, "etc", "rules", "slo-removed.yml");
      for (const f of [keep, gone]) {
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, "groups: []\n");
      }
      const row = (p: string) => [p, "0640", "root:root", "prometheus.service", "reload"].join("\t");
      const previous = path.join(t.dir, "installed-files.tsv");
      const current = path.join(t.dir, "files.tsv");
      fs.writeFileSync(previous, `${row(keep)}\n${row(gone)}\n`);
      fs.writeFileSync(current, `${row(keep)}\n`);
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const res = runScriptFunction(
        "monitoring-apply.sh",
        `remove_stale_files "${previous}" "${current}"; echo "action \${ACTIONS[prometheus.service]:-none}"`,
        { UNIT_DIR: path.join(t.dir, "units") },
        bin,
      );
      assert.equal(res.status, 0, res.stderr);
      assert.ok(fs.existsSync(keep));
      assert.ok(!fs.existsSync(gone));
      assert.match(res.stdout, /action reload/);
    } finally {
      t.cleanup();
    }
  });
});

// The bounded retries are wiring here; the boot test shows a failing first boot reported in the journal at once
// (wrong bucket) and a successful one (first boot).
describe("sync: first boot", () => {
  it("retries a failing bootstrap a bounded number of times, then says how to retry by hand", () => {
    const t = tempDir("monhost-boot-");
    try {
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(t.dir, "aws.log");
      fake(bin, "aws", `echo "aws $*" >> "${log}"; exit 255`);
      fake(bin, "sleep", "true");
      const env = path.join(t.dir, "bootstrap.env");
      fs.writeFileSync(
        env,
        ["CONFIG_BUCKET=b", "CONFIG_KEY=hosts/dev/bundle.json", `STATE_DIR=${t.dir}/state`, `BIN_ROOT=${t.dir}/bin-root`, "CONFIG_ROOT=/etc/monitoring-host"].join("\n") + "\n",
      );
      const res = runScriptFunction("monitoring-sync.sh", "main --bootstrap", { BOOTSTRAP_ENV: env, BOOTSTRAP_ATTEMPTS: "3", BOOTSTRAP_RETRY_SECONDS: "0" }, bin);
      assert.notEqual(res.status, 0);
      assert.equal(res.stdout.match(/bootstrap attempt \d of 3 failed/g)?.length, 3);
      assert.match(res.stderr, /cannot read s3:\/\/b\/hosts\/dev\/bundle\.json \(the instance role needs s3:GetObject on it\)/);
      assert.match(res.stderr, /bootstrap failed 3 times; .*monitoring-sync --bootstrap/);
      // Each attempt polls S3 for a while (the role and the bundle may be late), never forever.
      const polls = fs.readFileSync(log, "utf8").trim().split("\n").length;
      assert.equal(polls, 3 * 60);
    } finally {
      t.cleanup();
    }
  });
});

// Shown for real by the boot test's config change: the real AWS CLI polls the ETag, fetches with If-Match, and the
// apply step runs from the path unit.
describe("sync: a poll against fake aws and curl", () => {
  it("fetches a changed bundle once, verifies every pinned archive, signals apply, and does nothing when unchanged", () => {
    const t = tempDir("monhost-poll-");
    try {
      const cfg = stackConfig("prd");
      const bundle = buildBundle(cfg, placeholderBundleContext("prd"));
      const served = path.join(t.dir, "served");
      fs.mkdirSync(served);
      // TEST ONLY: stand-in archives, so the bundle's versions.tsv pins their digests (column 6) instead of the
      // real releases'; everything else in the bundle is as rendered.
      const stand = new Map<string, string>();
      for (const c of bundle.versions) {
        const body = `archive ${c.artifact}`;
        fs.writeFileSync(path.join(served, c.artifact), body);
        stand.set(c.name, createHash("sha256").update(body).digest("hex"));
      }
      const doc = JSON.parse(renderBundle(cfg, placeholderBundleContext("prd")));
      const tsv = doc.files.find((f: { path: string }) => f.path.endsWith("/versions.tsv"));
      tsv.content = (tsv.content as string).replace(/^([^\t\n]+)((?:\t[^\t\n]*){4})\t[^\t\n]+/gm, (_m, name: string, mid: string) => `${name}${mid}\t${stand.get(name)}`);
      for (const [name, sha] of stand) assert.ok((tsv.content as string).includes(`\t${sha}\t`), name);
      const bundleFile = path.join(t.dir, "bundle.json");
      fs.writeFileSync(bundleFile, JSON.stringify(doc));
      const etagFile = path.join(t.dir, "etag");
      fs.writeFileSync(etagFile, '"etag-1"');
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const calls = path.join(t.dir, "calls.log");
      fake(
        bin,
        "aws",
        `echo "aws $*" >> "${calls}"
case "$2" in
  head-object) cat "${etagFile}"; echo ;;
  get-object) cp "${bundleFile}" "\${@: -1}"; echo '{}' ;;
  *) exit 1 ;;
esac`,
      );
      fake(
        bin,
        "curl",
        `echo "curl \${@: -1}" >> "${calls}"; out=""; url=""
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
[ -f "${served}/\${url##*/}" ] || exit 22
cp "${served}/\${url##*/}" "$out"`,
      );
      const state = path.join(t.dir, "state");
      const env = path.join(t.dir, "bootstrap.env");
      fs.writeFileSync(env, [`CONFIG_BUCKET=b`, `CONFIG_KEY=k`, `STATE_DIR=${state}`, `BIN_ROOT=${t.dir}/binroot`, `CONFIG_ROOT=/etc/monitoring-host`].join("\n") + "\n");
      const poll = () => runScriptFunction("monitoring-sync.sh", "main", { BOOTSTRAP_ENV: env }, bin);
      const log = () => fs.readFileSync(calls, "utf8").trim().split("\n");

      let res = poll();
      assert.equal(res.status, 0, res.stderr);
      const current = fs.realpathSync(path.join(state, "sync", "current"));
      assert.ok(fs.existsSync(path.join(current, "files.tsv")));
      assert.equal(fs.readFileSync(path.join(state, "sync", "etag"), "utf8"), '"etag-1"\n');
      assert.ok(fs.existsSync(path.join(state, "sync", "ready")));
      for (const c of bundle.versions) {
        assert.ok(fs.existsSync(path.join(state, "sync", "artifacts", `${c.name}-${c.version}`, c.artifact)), c.name);
      }
      // One download per archive: no checksum file from the release's origin.
      assert.equal(log().filter((l) => l.startsWith("curl")).length, bundle.versions.length);
      assert.ok(log().some((l) => l.includes("get-object") && l.includes('--if-match "etag-1"')));

      // Unchanged ETag, applied: one HEAD, nothing else.
      fs.writeFileSync(calls, "");
      fs.copyFileSync(path.join(state, "sync", "etag"), path.join(state, "applied-etag"));
      fs.rmSync(path.join(state, "sync", "ready"));
      res = poll();
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(log(), ["aws s3api head-object --bucket b --key k --query ETag --output text"]);
      assert.ok(!fs.existsSync(path.join(state, "sync", "ready")));

      // Unchanged but not applied (apply failed): signal again, fetch nothing.
      fs.writeFileSync(path.join(state, "applied-etag"), '"etag-0"\n');
      res = poll();
      assert.match(res.stdout, /not applied yet; signalling the apply step again/);
      assert.ok(fs.existsSync(path.join(state, "sync", "ready")));

      // A new ETag: fetched again; the archives already verified are not downloaded again.
      fs.writeFileSync(calls, "");
      fs.writeFileSync(etagFile, '"etag-2"');
      res = poll();
      assert.equal(res.status, 0, res.stderr);
      assert.ok(!log().some((l) => l.startsWith("curl")), log().join("\n"));
      assert.notEqual(fs.realpathSync(path.join(state, "sync", "current")), current);
      // The previous bundle stays (an apply may still read it); older ones go.
      assert.equal(fs.readdirSync(path.join(state, "sync", "bundles")).length, 2);
    } finally {
      t.cleanup();
    }
  });
});

describe("sync: bundle unpacking", () => {
  it("writes every file of the bundle and a files.tsv; refuses paths that escape", function () {
    requireTool(this, "python3");
    const t = tempDir("monhost-unpack-");
    try {
      const cfg = stackConfig("dev");
      const bundlePath = path.join(t.dir, "bundle.json");
      fs.writeFileSync(bundlePath, renderBundle(cfg, placeholderBundleContext("dev")));
      const fakeBin = path.join(t.dir, "bin");
      fs.mkdirSync(fakeBin);
      const out = path.join(t.dir, "out");
      let res = runScriptFunction("monitoring-sync.sh", `unpack_bundle "${bundlePath}" "${out}"`, {}, fakeBin);
      assert.equal(res.status, 0, res.stderr);
      const bundle = buildBundle(cfg, placeholderBundleContext("dev"));
      const rows = fs.readFileSync(path.join(out, "files.tsv"), "utf8").trim().split("\n");
      assert.equal(rows.length, bundle.files.length);
      for (const f of bundle.files) {
        assert.equal(fs.readFileSync(path.join(out, "files", f.path), "utf8"), f.content, f.path);
        const row = rows.find((r) => r.split("\t")[0] === f.path)!.split("\t");
        assert.deepEqual(row, [f.path, f.mode, f.owner, f.onChange?.unit ?? "-", f.onChange?.action ?? "-"]);
      }
      const evil = { ...bundle, files: [{ path: "/etc/../../tmp/x", content: "x", mode: "0644", owner: "root:root" }] };
      fs.writeFileSync(bundlePath, JSON.stringify(evil));
      res = runScriptFunction("monitoring-sync.sh", `unpack_bundle "${bundlePath}" "${path.join(t.dir, "out2")}"`, {}, fakeBin);
      assert.notEqual(res.status, 0);
      assert.match(res.stderr, /refusing bundle entry/);
    } finally {
      t.cleanup();
    }
  });
});

describe("host scripts", () => {
  for (const stack of ["dev", "prd"]) {
    it(`(${stack}) every shell script of the bundle and of the user data passes shellcheck`, function () {
      requireTool(this, "shellcheck");
      const cfg = stackConfig(stack);
      const ctx = placeholderBundleContext(stack);
      const scripts = shellScripts({ cfg, files: buildBundle(cfg, ctx).files, userData: renderUserData(cfg, placeholderUserDataContext(stack)), bundle: "", missingSecrets: [] });
      const names = scripts.map((x) => x.name);
      for (const p of [AGENT.syncScript, AGENT.applyScript, AGENT.secretsScript, `user-data:${AGENT.syncScript}`]) assert.ok(names.includes(p), p);
      const t = tempDir();
      try {
        scripts.forEach((x, i) => {
          const f = path.join(t.dir, `script-${i}.sh`);
          fs.writeFileSync(f, x.content);
          const res = run("shellcheck", [f]);
          assert.equal(res.status, 0, `${x.name}:\n${res.stdout}`);
        });
      } finally {
        t.cleanup();
      }
    });
  }

  it("all pass shellcheck", function () {
    requireTool(this, "shellcheck");
    const t = tempDir();
    try {
      for (const name of ["monitoring-sync.sh", "monitoring-apply.sh", "monitoring-secrets.sh"] as const) {
        const f = path.join(t.dir, name);
        fs.writeFileSync(f, hostScript(name));
        const res = run("shellcheck", [f]);
        assert.equal(res.status, 0, `${name}:\n${res.stdout}`);
      }
    } finally {
      t.cleanup();
    }
  });
});

describe("leak guard", () => {
  it("finds every secret of the config, the host-alarm pager URL included", () => {
    const cfg = stackConfig("prd", {}, { hostAlarmPagerUrl: "https://events.example.com/integration/SECRET-PAGER-KEY" });
    const values = readableSecretValues(cfg);
    assert.ok(values.includes("https://events.example.com/integration/SECRET-PAGER-KEY"));
    for (const s of secretValues("prd").filter((v) => v.length >= 8)) assert.ok(values.includes(s), "test secret found");
    assert.throws(() => assertNoSecrets(cfg, "url: https://events.example.com/integration/SECRET-PAGER-KEY", "x"), /would contain a secret value/);
  });
});

describe("apply: data volume with the real mkfs.xfs and blkid", () => {
  // The fakes above prove the decisions; this proves the label the host writes is one XFS accepts (it was 15
  // characters, and every first boot on a blank volume failed). The boot test formats a real loop device too.
  it("formats a blank volume with the real mkfs.xfs, labelled DATA_FS_LABEL", function () {
    requireTool(this, "mkfs.xfs");
    requireTool(this, "blkid");
    const t = tempDir("monhost-mkfs-");
    try {
      const img = path.join(t.dir, "volume.img");
      fs.writeFileSync(img, "");
      fs.truncateSync(img, 512 * 1024 * 1024); // sparse; XFS needs at least 300 MB
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      // The real tools (in sbin, which the script runner's PATH leaves out).
      for (const tool of ["mkfs.xfs", "blkid"]) fs.symlinkSync(run("sh", ["-c", `command -v ${tool}`]).stdout.trim(), path.join(bin, tool));
      const res = runScriptFunction("monitoring-apply.sh", `ensure_filesystem "${img}"`, { DATA_FS_LABEL }, bin);
      assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
      assert.ok(DATA_FS_LABEL.length <= XFS_LABEL_MAX, `${DATA_FS_LABEL} is longer than XFS' ${XFS_LABEL_MAX} characters`);
      assert.equal(run(path.join(bin, "blkid"), ["-p", "-s", "LABEL", "-o", "value", img]).stdout.trim(), DATA_FS_LABEL);
      assert.equal(run(path.join(bin, "blkid"), ["-p", "-s", "TYPE", "-o", "value", img]).stdout.trim(), "xfs");
    } finally {
      t.cleanup();
    }
  });
});

describe("apply: units outside the enabled list", () => {
  // Wiring (fake systemctl); the boot test logs in over the real sshd with a key the bundle delivered.
  it("reloads sshd for its drop-in although sshd is not one of the units the bundle enables", () => {
    const t = tempDir("monhost-units-");
    try {
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(t.dir, "calls.log");
      // Every unit runs and keeps its main PID.
      fake(bin, "systemctl", `echo "systemctl $*" >> "${log}"; case $1 in is-active) [ "$2" = --quiet ] || echo active ;; show) echo 100 ;; esac`);
      const res = runScriptFunction(
        "monitoring-apply.sh",
        `queue_action sshd.service reload; queue_action prometheus.service reload; apply_units`,
        { ENABLED_UNITS: "prometheus.service alertmanager.service", RESTART_SETTLE_SECONDS: "0", STATE_DIR: t.dir, APPLY_FAILED: path.join(t.dir, "apply-failed") },
        bin,
      );
      assert.equal(res.status, 0, res.stderr);
      const calls = fs.readFileSync(log, "utf8").trim().split("\n");
      assert.ok(calls.includes("systemctl reload-or-restart sshd.service"), calls.join("\n"));
      assert.equal(calls.filter((c) => c === "systemctl reload-or-restart prometheus.service").length, 1, calls.join("\n"));
      assert.ok(!calls.some((c) => c.includes("alertmanager.service") && /restart/.test(c)), calls.join("\n"));
    } finally {
      t.cleanup();
    }
  });
});

describe("sync: talking to AWS (fake aws)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string;
  let envFile: string;
  beforeEach(() => {
    t = tempDir("monhost-aws-");
    bin = path.join(t.dir, "bin");
    fs.mkdirSync(bin);
    fs.mkdirSync(path.join(t.dir, "state", "sync"), { recursive: true });
    envFile = path.join(t.dir, "bootstrap.env");
    fs.writeFileSync(envFile, bootstrapEnv(stackConfig("dev"), { ...placeholderUserDataContext("dev"), configBucket: "wrong-bucket-name" }).replace(/^STATE_DIR=.*$/m, `STATE_DIR=${t.dir}/state`));
  });
  afterEach(() => t.cleanup());

  // The boot test shows both on the real AWS CLI: its fake IMDS does not answer the region, and a wrong bucket.
  it("exports bootstrap.env, so the region reaches aws in the bootstrap run", () => {
    fake(bin, "aws", `echo "\${AWS_REGION:-unset}"`);
    const res = runScriptFunction("monitoring-sync.sh", `load_env; remote_etag`, { BOOTSTRAP_ENV: envFile }, bin);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.trim(), stackConfig("dev").region);
  });

  it("reports a wrong bucket at the first failed attempt with the AWS error, naming bucket, key and permission", () => {
    fake(bin, "aws", `echo "An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 254`);
    fake(bin, "sleep", "true");
    const res = runScriptFunction("monitoring-sync.sh", `load_env; wait_for_etag 3`, { BOOTSTRAP_ENV: envFile, ETAG_RETRY_SECONDS: "0" }, bin);
    assert.notEqual(res.status, 0);
    const lines = res.stderr.trim().split("\n");
    assert.match(lines[0], /cannot read s3:\/\/wrong-bucket-name\/hosts\/dev\/bundle\.json \(HeadObject; the instance role needs s3:GetObject on it\), attempt 1 of 3: An error occurred \(404\)/);
    // The same error is not repeated at every attempt; the final message keeps it.
    assert.equal(lines.length, 2, res.stderr);
    assert.match(lines[1], /last error: An error occurred \(404\)/);
  });
});

describe("apply: certificate expiry for node_exporter (real openssl and node_exporter)", function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir("monhost-certs-")));
  after(async () => {
    await stopAll();
    t.cleanup();
  });

  it("publishes each served certificate's notAfter (0 when unreadable), and node_exporter serves it with the rendered flags", async function () {
    requireTool(this, "openssl");
    if (!fs.existsSync(NODE_EXPORTER_BIN)) {
      if (process.env.CI) throw new Error(`${NODE_EXPORTER_BIN} is missing (Debian package prometheus-node-exporter)`);
      this.skip();
    }
    const cert = path.join(t.dir, "otlp-server.crt");
    const gen = run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "10", "-subj", "/CN=test",
      "-keyout", path.join(t.dir, "k.pem"), "-out", cert]);
    assert.equal(gen.status, 0, gen.stderr);
    const end = run("openssl", ["x509", "-enddate", "-noout", "-in", cert]).stdout.trim().replace(/^notAfter=/, "");
    const expected = Math.floor(Date.parse(end) / 1000);
    assert.ok(Math.abs(expected - (Date.now() / 1000 + 10 * 86400)) < 3600, `openssl says ${end}`);
    const textfile = path.join(t.dir, "textfile");
    const missing = path.join(t.dir, "missing.crt");
    const bin = path.join(t.dir, "bin");
    fs.mkdirSync(bin);
    const res = runScriptFunction("monitoring-apply.sh", "write_certificate_metrics", { TEXTFILE_DIR: textfile, SERVED_CERTIFICATES: `${cert} ${missing}` }, bin);
    assert.equal(res.status, 0, res.stderr);
    const prom = fs.readFileSync(path.join(textfile, "certificates.prom"), "utf8");
    assert.match(prom, new RegExp(`^monitoring_host_certificate_not_after_seconds\\{path="${cert}"\\} ${expected}$`, "m"));
    assert.match(prom, new RegExp(`^monitoring_host_certificate_not_after_seconds\\{path="${missing}"\\} 0$`, "m"));
    // The rendered host env lists the certificate the collector serves.
    assert.match(hostEnv(stackConfig("dev")), new RegExp(`^SERVED_CERTIFICATES='${OTLP_SERVER_CERT_PATH}'$`, "m"));

    // node_exporter with the rendered flags (listen address and textfile directory moved into the test).
    const port = await freePort();
    const args = withFlags(nodeExporterFlags(), {
      "--web.listen-address": `127.0.0.1:${port}`,
      "--collector.textfile.directory": textfile,
    });
    const d = await startDaemon({ name: "node_exporter", cmd: NODE_EXPORTER_BIN, args, port, readyPath: "/metrics" });
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    const served = new RegExp(`^monitoring_host_certificate_not_after_seconds\\{path="${cert}"\\} (\\S+)$`, "m").exec(metrics);
    assert.ok(served, "node_exporter does not serve the certificate's expiry");
    assert.equal(Number(served[1]), expected);
    assert.match(metrics, /^node_textfile_scrape_error 0$/m);
  });
});

describe("apply: stale-file detection on a large bundle", () => {
  // The boot test saw a config change delete unit files: `cut | grep -q` under pipefail failed when grep exited
  // before cut finished writing (SIGPIPE), so a file still in the bundle was taken for stale.
  it("keeps a file that is still in a bundle of many files", () => {
    const t = tempDir("monhost-stale-big-");
    try {
      const keep = path.join(t.dir, "keep.conf");
      fs.writeFileSync(keep, "x\n");
      const row = (p: string) => `${p}\t0644\troot:root\t-\t-\n`;
      const current = path.join(t.dir, "current.tsv");
      // The kept file first, then enough rows that cut is still writing when grep has its match.
      fs.writeFileSync(current, row(keep) + Array.from({ length: 50000 }, (_, i) => row(`/etc/filler/${i}.conf`)).join(""));
      const previous = path.join(t.dir, "previous.tsv");
      fs.writeFileSync(previous, row(keep));
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const res = runScriptFunction("monitoring-apply.sh", `UNIT_DIR=/nonexistent; remove_stale_files "${previous}" "${current}"`, {}, bin);
      assert.equal(res.status, 0, res.stderr);
      assert.ok(fs.existsSync(keep), `a file still in the bundle was removed: ${res.stdout}`);
    } finally {
      t.cleanup();
    }
  });
});
