/**
 * The EC2 user data: valid cloud-config (the real `cloud-init schema`), small, secret-free, independent of the
 * service configs, and a per-boot bootstrap that runs until a bundle is applied. The boot test (tests/boot) runs it
 * under real cloud-init.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { StackConfig } from "../config/stack-config";
import { buildBundle, renderBundle } from "../hostfiles/bundle";
import { assertNoSecrets, readableSecretValues } from "../hostfiles/leak-check";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderBundleContext, placeholderUserDataContext } from "../layout/host-file";
import { AGENT, DATA_MOUNT } from "../layout/host-layout";
import { AUTHORIZED_KEYS_DIR, SSHD_DROP_IN, sshdDropIn } from "../hostfiles/ssh-access";
import { BOOTSTRAP_JSON, PER_BOOT_BOOTSTRAP, renderUserData, USER_DATA_LIMIT_BYTES } from "../hostfiles/user-data";
import { renderTemplate } from "../hostfiles/templates";
import { secretValues, stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";
import { DATA_MOUNT_UNIT } from "../hostfiles/data-volume-units";

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
      const settings = JSON.parse(writeFiles(userData).find((f) => f.path === BOOTSTRAP_JSON)!.content) as Record<string, string>;
      assert.equal(settings.configBucket, udCtx.configBucket);
      assert.equal(settings.configKey, udCtx.configObjectKey);
      assert.equal(settings.dataVolumeId, udCtx.dataVolumeId);
      assert.equal(settings.region, cfg.region);
      const doc = YAML.parse(userData) as { runcmd?: unknown };
      assert.equal(doc.runcmd, undefined, "no once-only runcmd: a failed first boot must be retried at the next boot");
      const perBoot = writeFiles(userData).find((f) => f.path === PER_BOOT_BOOTSTRAP)!;
      assert.equal(perBoot.permissions, "0755");
      assert.match(perBoot.content, new RegExp(`exec ${AGENT.syncScript} --bootstrap`));
    });

    it("mounts the data volume by its by-id device with a unit systemd accepts (nofail, a device timeout)", function () {
      const device = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${udCtx.dataVolumeId.replace("-", "")}`;
      const units = writeFiles(userData).filter((f) => f.path.startsWith("/etc/systemd/system/"));
      const mount = units.find((f) => f.path.endsWith(".mount"))!;
      // Unit names as systemd derives them from the paths (the real systemd-escape).
      requireTool(this, "systemd-escape");
      const escape = (p: string, suffix: string) => run("systemd-escape", ["--path", `--suffix=${suffix}`, p]).stdout.trim();
      assert.equal(mount.path, `/etc/systemd/system/${escape(DATA_MOUNT, "mount")}`);
      assert.equal(DATA_MOUNT_UNIT, escape(DATA_MOUNT, "mount"));
      assert.match(mount.content, new RegExp(`^What=${device}$`, "m"));
      assert.match(mount.content, /^Options=\S*\bnofail\b/m);
      const timeout = units.find((f) => f.path.endsWith(".conf"))!;
      assert.equal(timeout.path, `/etc/systemd/system/${escape(device, "device")}.d/50-monitoring-host.conf`);
      assert.match(timeout.content, /^JobRunningTimeoutSec=\S+$/m);
      // systemd-analyze verify reads the unit as systemd would.
      requireTool(this, "systemd-analyze");
      const dir = path.join(tmp.dir, "units");
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, path.basename(mount.path));
      fs.writeFileSync(file, mount.content);
      const res = run("systemd-analyze", ["verify", "--man=no", file]);
      assert.equal(res.stderr.split("\n").filter((l) => l && !/Failed to (open|load)|No such file|not found/.test(l)).join("\n"), "", res.stderr);
      assert.equal(res.status, 0, res.stderr);
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

describe("leak guard", () => {
  it("finds every secret of the config, the host-alarm pager URL included", () => {
    const cfg = stackConfig("prd", {}, { hostAlarmPagerUrl: "https://events.example.com/integration/SECRET-PAGER-KEY" });
    const values = readableSecretValues(cfg);
    assert.ok(values.includes("https://events.example.com/integration/SECRET-PAGER-KEY"));
    for (const s of secretValues("prd").filter((v) => v.length >= 8)) assert.ok(values.includes(s), "test secret found");
    assert.throws(() => assertNoSecrets(cfg, "url: https://events.example.com/integration/SECRET-PAGER-KEY", "x"), /would contain a secret value/);
  });
});
