/**
 * monitoring-apply (host-agent/monitoring-apply.sh), one function at a time: the data volume, users
 * (systemd-sysusers), binaries, files (`install -C`), stale files, secret changes and units. Real jq, install, tar,
 * systemd-sysusers, mkfs.xfs, openssl and node_exporter; systemctl, blkid and mount are fakes where a test says so,
 * each paired with the boot test (tests/boot), which runs the whole apply step under real systemd.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { nodeExporterFlags } from "../../hostfiles/services/flags";
import { OTLP_SERVER_CERT_PATH } from "../../hostfiles/services/otelcol";
import { buildBundle } from "../../hostfiles/bundle";
import { sysusersConf } from "../../hostfiles/agent";
import { DATA_FS_LABEL, SERVICES, SYNC_USER, XFS_LABEL_MAX } from "../../layout/host-layout";
import { placeholderBundleContext, placeholderUserDataContext } from "../../layout/host-file";
import { freePort, startDaemon, stopAll, withFlags } from "../support/daemons";
import { fake, runScriptFunction } from "../support/host-scripts";
import { stackConfig } from "../support/stacks";
import { requireTool, run, tempDir } from "../support/validators";

/** Debian's node_exporter (package prometheus-node-exporter, pulled in by prometheus). */
const NODE_EXPORTER_BIN = "/usr/bin/prometheus-node-exporter";

// Wiring against fakes. Shown for real by tests/boot/boot.spec.ts: a blank volume formatted, then mounted by systemd
// with the mount unit user data wrote (first boot), an existing filesystem kept (host replacement), a partition
// table never formatted (its own boot), a second run with the volume mounted touching nothing (config change),
// systemd mounting the volume at a reboot, and no service starting without it (missing volume).
// NOT shown by a boot (no hot-plug into a container, and a real blkid that fails cannot be provoked safely): the
// bounded wait for a late volume, the probe error.
describe("apply: data volume at first boot (fake blkid, mkfs.xfs, systemctl)", () => {
  const VOL = "vol-0abc123def4567890";
  const MOUNT_UNIT = "var-lib-monitoring.mount";
  let t: ReturnType<typeof tempDir>;
  let bin: string, device: string, state: string, log: string, mnt: string;

  beforeEach(() => {
    t = tempDir("monhost-vol-");
    bin = path.join(t.dir, "bin");
    state = path.join(t.dir, "state");
    log = path.join(t.dir, "calls.log");
    mnt = path.join(t.dir, "mnt", "monitoring");
    device = path.join(t.dir, "dev", "disk", "by-id", `nvme-Amazon_Elastic_Block_Store_${VOL.replace("-", "")}`);
    for (const d of [bin, state, path.dirname(device)]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(log, "");
    // blkid: the device's content is $STATE/fs (a filesystem type), $STATE/pt (a partition table only),
    // $STATE/error (probe fails), else blank (exit 2, like the real one).
    fake(
      bin,
      "blkid",
      `echo "blkid $*" >> "${log}"
if [ -f "${state}/error" ]; then exit 4; fi
if [ -f "${state}/fs" ]; then echo "DEVNAME=\${@: -1}"; echo "UUID=uuid-42"; echo "TYPE=$(cat "${state}/fs")"; exit 0; fi
if [ -f "${state}/pt" ]; then echo "DEVNAME=\${@: -1}"; echo "PTTYPE=gpt"; exit 0; fi
exit 2`,
    );
    fake(bin, "mkfs.xfs", `echo "mkfs.xfs $*" >> "${log}"; echo xfs > "${state}/fs"`);
    // systemd mounts the volume when its mount unit starts (the unit is written by user data).
    fake(bin, "systemctl", `echo "systemctl $*" >> "${log}"; if [ "$1 $2" = "start ${MOUNT_UNIT}" ]; then touch "${state}/mounted"; fi`);
    fake(bin, "mountpoint", `echo "mountpoint $*" >> "${log}"; [ -f "${state}/mounted" ]`);
    fake(bin, "sleep", `echo "sleep $*" >> "${log}"; if [ -f "${state}/appear-on-sleep" ]; then touch "$(cat "${state}/appear-on-sleep")"; fi`);
  });
  afterEach(() => t.cleanup());

  const env = (extra: Record<string, string> = {}) => ({
    DATA_MOUNT: mnt,
    DATA_DEVICE: device,
    DATA_MOUNT_UNIT: MOUNT_UNIT,
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

  it("keeps an existing filesystem: no mkfs, mounted by systemd's mount unit", () => {
    fs.writeFileSync(device, "");
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.ok(!calls().some((c) => c.startsWith("mkfs")), calls().join("\n"));
    assert.deepEqual(calls().filter((c) => c.startsWith("systemctl")), ["systemctl daemon-reload", `systemctl start ${MOUNT_UNIT}`]);
    assert.match(res.stdout, /already has a filesystem/);
  });

  it("formats a blank device once, with the label, before systemd mounts it", () => {
    fs.writeFileSync(device, "");
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(
      calls().filter((c) => c.startsWith("mkfs")),
      [`mkfs.xfs -L ${DATA_FS_LABEL} ${device}`],
    );
    assert.ok(calls().indexOf(`mkfs.xfs -L ${DATA_FS_LABEL} ${device}`) < calls().indexOf(`systemctl start ${MOUNT_UNIT}`));
  });

  it("refuses to format a device that has a partition table but no filesystem, and does not mount it", () => {
    fs.writeFileSync(device, "");
    fs.writeFileSync(path.join(state, "pt"), "");
    const res = prepare();
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /refusing to format/);
    assert.ok(!calls().some((c) => c.startsWith("mkfs") || c.startsWith("systemctl start")), calls().join("\n"));
  });

  it("does not format when blkid itself fails", () => {
    fs.writeFileSync(device, "");
    fs.writeFileSync(path.join(state, "error"), "");
    const res = prepare();
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /not formatting/);
    assert.ok(!calls().some((c) => c.startsWith("mkfs")));
  });

  it("is idempotent: a second run with the volume mounted touches nothing", () => {
    fs.writeFileSync(device, "");
    assert.equal(prepare().status, 0);
    fs.writeFileSync(log, "");
    assert.equal(prepare().status, 0);
    assert.deepEqual(calls(), [`mountpoint -q ${mnt}`]);
  });

  it("waits for a volume that is attached after boot", () => {
    fs.writeFileSync(path.join(state, "fs"), "xfs");
    fs.writeFileSync(path.join(state, "appear-on-sleep"), device);
    const res = prepare();
    assert.equal(res.status, 0, res.stderr);
    assert.ok(calls().some((c) => c.startsWith("sleep")));
    assert.ok(calls().includes(`systemctl start ${MOUNT_UNIT}`));
  });

  it("gives up after a bounded wait when the volume never appears", () => {
    const res = prepare({ DEVICE_WAIT_SECONDS: "6", DEVICE_POLL_SECONDS: "2" });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`data volume ${VOL} did not appear within 6s at ${device}`));
    assert.equal(calls().filter((c) => c.startsWith("sleep")).length, 3);
    assert.ok(!calls().some((c) => c.startsWith("mkfs") || c.startsWith("systemctl start")));
  });

  it("in the sandboxed apply service, fails at once instead of waiting for a device it cannot see", () => {
    const res = prepare({ APPLY_CAN_MOUNT: "no", BIN_ROOT: "/usr/local/lib/monitoring-host" });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /is not mounted and this sandboxed run cannot mount it/);
    assert.ok(!calls().some((c) => c.startsWith("sleep") || c.startsWith("blkid") || c.startsWith("mkfs")));
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

// Real tar, sha256sum, install and jq. Shown whole by the boot test: every pinned archive downloaded, verified,
// installed and started (first boot); only the changed files rewritten and only their unit reloaded (config change).
describe("apply: binaries and files", () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir("monhost-apply-")));
  afterEach(() => t.cleanup());

  /** A bundle.json with these `versions` and `files` (only what the functions read). */
  const bundle = (doc: { versions?: unknown[]; files?: unknown[] }, dir = t.dir) => {
    const file = path.join(dir, "bundle.json");
    fs.writeFileSync(file, JSON.stringify({ versions: [], files: [], ...doc }));
    return file;
  };

  /** A downloaded artifact in the sync directory, and a bundle pinning `pinned` (default: its real digest). */
  function stage(pinned?: string | null) {
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
    const file = bundle({
      versions: [{ name: "tool", version: "1.0.0", unit: "tool.service", artifact, url: "u", sha256: pinned === undefined ? sha : pinned, archive: "tar.gz",
        install: { binaries: { "tool-1.0.0.linux-amd64/tool": dest } } }],
    });
    const env = { STATE_DIR: stateDir, BIN_ROOT: path.join(t.dir, "binroot") };
    return { file, dest, env };
  }
  const bin = () => {
    const b = path.join(t.dir, "fakebin");
    fs.mkdirSync(b, { recursive: true });
    return b;
  };

  it("installs a verified binary once, records its version and queues a restart of its unit", () => {
    const { file, dest, env } = stage();
    const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${file}"; echo "actions: \${ACTIONS[tool.service]}"; install_binaries "${file}"`, env, bin());
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.readFileSync(dest, "utf8"), "#!/bin/sh\necho tool 1.0.0\n");
    assert.equal(fs.statSync(dest).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(env.BIN_ROOT, "installed", "tool"), "utf8"), "1.0.0\n");
    assert.match(res.stdout, /actions: restart/);
    assert.equal(res.stdout.match(/installed tool 1\.0\.0/g)?.length, 1, "the second run must skip the installed version");
  });

  it("installs every binary the rendered bundle names for a component (prometheus and promtool)", () => {
    const stateDir = path.join(t.dir, "state");
    const prom = buildBundle(stackConfig("dev"), placeholderBundleContext("dev")).versions.find((v) => v.name === "prometheus")!;
    assert.ok("binaries" in prom.install);
    const top = path.join(t.dir, "src");
    const moved: Record<string, string> = {};
    for (const [member, to] of Object.entries(prom.install.binaries)) {
      fs.mkdirSync(path.dirname(path.join(top, member)), { recursive: true });
      fs.writeFileSync(path.join(top, member), `#!/bin/sh\necho ${path.basename(to)}\n`);
      moved[member] = path.join(t.dir, "root", to);
    }
    const artDir = path.join(stateDir, "sync", "artifacts", `prometheus-${prom.version}`);
    fs.mkdirSync(artDir, { recursive: true });
    assert.equal(run("tar", ["-czf", path.join(artDir, prom.artifact), "-C", top, "."]).status, 0);
    const sha = createHash("sha256").update(fs.readFileSync(path.join(artDir, prom.artifact))).digest("hex");
    const file = bundle({ versions: [{ ...prom, sha256: sha, install: { binaries: moved } }] });
    const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${file}"`, { STATE_DIR: stateDir, BIN_ROOT: path.join(t.dir, "binroot") }, bin());
    assert.equal(res.status, 0, res.stderr);
    assert.equal(Object.keys(moved).length, 2);
    for (const to of Object.values(moved)) {
      assert.equal(fs.readFileSync(to, "utf8"), `#!/bin/sh\necho ${path.basename(to)}\n`);
      assert.equal(fs.statSync(to).mode & 0o777, 0o755);
    }
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
    const file = bundle({
      versions: [{ name: "grafana", version: "9.9.9", unit: "grafana.service", artifact, url: "u", sha256: sha, archive: "tar.gz", install: { tree: { from: "*", to: home } } }],
    });
    const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${file}"`, { STATE_DIR: stateDir, BIN_ROOT: path.join(t.dir, "binroot") }, bin());
    assert.equal(res.status, 0, res.stderr);
    assert.ok(fs.existsSync(path.join(home, "bin", "grafana")));
    assert.ok(fs.existsSync(path.join(home, "public")));
    assert.ok(!fs.existsSync(path.join(home, "old-release-only")), "the old tree is replaced, not merged");
    assert.ok(!fs.existsSync(`${home}.old`) && !fs.existsSync(`${home}.new`));
  });

  it("refuses to install an archive that does not match the pinned digest, or has none", () => {
    for (const [pinned, message] of [
      ["b".repeat(64), /checksum mismatch for .*tool-1\.0\.0\.linux-amd64\.tar\.gz \(pinned b{64}\); not installing tool 1\.0\.0/],
      [null, /no pinned SHA-256 for tool-1\.0\.0\.linux-amd64\.tar\.gz in the bundle \(config\/release-manifest\.ts or the stack.s releaseDigests\); not installing tool 1\.0\.0/],
    ] as const) {
      const { file, dest, env } = stage(pinned);
      const res = runScriptFunction("monitoring-apply.sh", `install_binaries "${file}"`, env, bin());
      assert.notEqual(res.status, 0);
      assert.match(res.stderr, message);
      assert.ok(!fs.existsSync(dest));
      assert.ok(!fs.existsSync(path.join(env.BIN_ROOT, "installed", "tool")));
    }
  });

  it("rewrites only changed files (content, mode or owner) and queues only their units' actions", function () {
    if (process.getuid?.() !== 0) this.skip(); // install -o root
    const root = path.join(t.dir, "bundle");
    const target = (n: string) => path.join(t.dir, "etc", n);
    const write = (contents: Record<string, string>, modeB = "0644") => {
      const files = [
        { path: target("a.yml"), mode: "0640", owner: "root:root", onChange: { unit: "a.service", action: "reload" } },
        { path: target("b.yml"), mode: modeB, owner: "root:root", onChange: { unit: "b.service", action: "restart" } },
        { path: target("c.md"), mode: "0644", owner: "root:root" },
      ];
      for (const f of files) {
        fs.mkdirSync(path.dirname(path.join(root, "files", f.path)), { recursive: true });
        fs.writeFileSync(path.join(root, "files", f.path), contents[path.basename(f.path)] ?? "c\n");
      }
      bundle({ files }, root);
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

    // A mode changed by hand on the host is put back, and counts as a change.
    fs.chmodSync(target("b.yml"), 0o666);
    res = apply();
    assert.match(res.stdout, /action b\.service restart/);
    assert.equal(fs.statSync(target("b.yml")).mode & 0o777, 0o644);
  });
});

describe("apply: users (real systemd-sysusers)", () => {
  // The boot test shows the users on a booted host (every service runs as its own user) and, after a host
  // replacement with shifted uids, the data directories' ownership repaired by the units' StateDirectory=.
  it("creates one system user and group per service and the sync user, without a login shell, once", function () {
    requireTool(this, "systemd-sysusers");
    const t = tempDir("monhost-users-");
    try {
      const root = path.join(t.dir, "root");
      fs.mkdirSync(path.join(root, "etc"), { recursive: true });
      fs.writeFileSync(path.join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/bash\ngrafana:x:990:990::/:/sbin/nologin\n");
      fs.writeFileSync(path.join(root, "etc", "group"), "root:x:0:\ngrafana:x:990:\n");
      const conf = path.join(t.dir, "monitoring-host.conf");
      fs.writeFileSync(conf, sysusersConf());
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      // The real systemd-sysusers, pointed at a scratch root instead of the machine's /etc.
      fake(bin, "systemd-sysusers", `exec /usr/bin/systemd-sysusers --root="${root}" "$@"`);
      const call = `systemd-sysusers "${conf}"`;
      for (let i = 0; i < 2; i++) {
        const res = runScriptFunction("monitoring-apply.sh", call, {}, bin);
        assert.equal(res.status, 0, res.stderr);
      }
      const passwd = fs.readFileSync(path.join(root, "etc", "passwd"), "utf8").trim().split("\n").map((l) => l.split(":"));
      const group = fs.readFileSync(path.join(root, "etc", "group"), "utf8").trim().split("\n").map((l) => l.split(":"));
      for (const user of [...Object.values(SERVICES).map((s) => s.user), SYNC_USER]) {
        const entries = passwd.filter((p) => p[0] === user);
        assert.equal(entries.length, 1, user);
        const [, , uid, gid, , home, shell] = entries[0];
        assert.ok(Number(uid) < 1000, `${user} is a system user (${uid})`);
        assert.equal(group.find((g) => g[0] === user)?.[2], gid, `${user}'s own group`);
        assert.match(shell, /nologin$/, user);
        assert.equal(home, "/", user);
      }
      assert.equal(passwd.find((p) => p[0] === "grafana")![2], "990", "an existing user is kept as it is");
    } finally {
      t.cleanup();
    }
  });
});

describe("apply: files dropped from the bundle, and changed secrets (real jq)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string;
  beforeEach(() => {
    t = tempDir("monhost-stale-");
    bin = path.join(t.dir, "bin");
    fs.mkdirSync(bin);
  });
  afterEach(() => t.cleanup());
  const write = (name: string, doc: unknown) => {
    const f = path.join(t.dir, name);
    fs.writeFileSync(f, JSON.stringify(doc));
    return f;
  };

  it("removes files the applied bundle had and the new one has not, and gives their unit its action", () => {
    const keep = path.join(t.dir, "etc", "rules", "keep.yml");
    const gone = path.join(t.dir, "etc", "rules", "slo-removed.yml");
    for (const f of [keep, gone]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, "groups: []\n");
    }
    const entry = (p: string) => ({ path: p, mode: "0640", owner: "root:root", onChange: { unit: "prometheus.service", action: "reload" } });
    // The new bundle is large (a file kept must be found among many: an earlier pipe lost it).
    const filler = Array.from({ length: 5000 }, (_, i) => ({ path: `/etc/filler/${i}.conf`, mode: "0644", owner: "root:root" }));
    const previous = write("applied.json", { files: [entry(keep), entry(gone)] });
    const current = write("new.json", { files: [...filler, entry(keep)] });
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
  });

  it("restarts the secrets unit and exactly the units whose secrets were added, removed or rotated", () => {
    const base = buildBundle(stackConfig("prd"), { ...placeholderBundleContext("prd"), secretVersions: { "grafana-admin-password": 1, "otlp-tls-key": 1 } });
    const applied = write("applied.json", base);
    const queued = (next: unknown) => {
      const res = runScriptFunction(
        "monitoring-apply.sh",
        `SECRETS_UNIT=monitoring-secrets.service; queue_secret_changes "${applied}" "${write("new.json", next)}"; for u in "\${!ACTIONS[@]}"; do echo "$u \${ACTIONS[$u]}"; done | sort`,
        {},
        bin,
      );
      assert.equal(res.status, 0, res.stderr);
      return res.stdout.trim();
    };
    assert.equal(queued(base), "", "nothing changed, nothing restarts");
    const rotated = { ...base, secrets: base.secrets.map((s) => (s.id === "grafana-admin-password" ? { ...s, version: 2 } : s)) };
    assert.equal(queued(rotated), "grafana.service restart\nmonitoring-secrets.service restart");
    const removed = { ...base, secrets: base.secrets.filter((s) => s.unit !== "alertmanager.service") };
    assert.ok(base.secrets.some((s) => s.unit === "alertmanager.service"), "prd has a receiver secret");
    assert.equal(queued(removed), "alertmanager.service restart\nmonitoring-secrets.service restart");
  });
});

// Wiring against a fake systemctl (each way a unit can fail to come back); the real-systemd case, on the booted
// host: tests/boot-security.spec.ts "a service that does not come back after an apply fails the apply".
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
    if grep -qx "$2" "$S/crash" 2>/dev/null; then (/bin/sleep 0.2; echo 201 >"$S/pid/$2") & fi
    exit 0 ;;
esac
exit 0`,
    );
    fake(bin, "journalctl", 'echo "journal of $2: error loading config"');
    // The settle wait (the fake crash uses /bin/sleep itself, 0.2 s after the restart).
    fake(bin, "sleep", "exec /bin/sleep 2");
  });
  afterEach(() => t.cleanup());

  const apply = (actions: Record<string, string>) =>
    runScriptFunction(
      "monitoring-apply.sh",
      `ENABLED_UNITS=(${units.join(" ")}); ${Object.entries(actions)
        .map(([u, a]) => `ACTIONS[${u}]=${a}`)
        .join("; ")}; activate_and_record`,
      { STATE_DIR: state, RESTART_SETTLE_SECONDS: "1" },
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
      `ENABLED_UNITS=(${units.join(" ")}); ACTIONS[prometheus.service]=restart; systemctl() { command systemctl "$@"; [ "$1" = restart ] && rm -f "${sys}/active/$2"; return 0; }; activate_and_record`,
      { STATE_DIR: state, RESTART_SETTLE_SECONDS: "1" },
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
        `ENABLED_UNITS=(prometheus.service alertmanager.service); queue_action sshd.service reload; queue_action prometheus.service reload; apply_units`,
        { RESTART_SETTLE_SECONDS: "0", STATE_DIR: t.dir, APPLY_FAILED: path.join(t.dir, "apply-failed") },
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
    const bundle = path.join(t.dir, "bundle.json");
    fs.writeFileSync(bundle, JSON.stringify({ host: { servedCertificates: [cert, missing] } }));
    const res = runScriptFunction("monitoring-apply.sh", `write_certificate_metrics "${bundle}"`, { TEXTFILE_DIR: textfile }, bin);
    assert.equal(res.status, 0, res.stderr);
    const prom = fs.readFileSync(path.join(textfile, "certificates.prom"), "utf8");
    assert.match(prom, new RegExp(`^monitoring_host_certificate_not_after_seconds\\{path="${cert}"\\} ${expected}$`, "m"));
    assert.match(prom, new RegExp(`^monitoring_host_certificate_not_after_seconds\\{path="${missing}"\\} 0$`, "m"));
    // The rendered bundle lists the certificate the collector serves.
    assert.deepEqual(buildBundle(stackConfig("dev"), placeholderBundleContext("dev")).host.servedCertificates, [OTLP_SERVER_CERT_PATH]);

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
