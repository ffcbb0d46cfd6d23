/**
 * The rendered host boots for real (issue 10): systemd as PID 1 in systemd-nspawn, cloud-init reading the rendered
 * user data through NoCloud, S3/SSM/IMDS and the release downloads answered on loopback in a private network
 * namespace, and the real AWS CLI, curl, sshd, Prometheus, Alertmanager and node_exporter under the rendered
 * hardened units. tests/boot/host.ts lists everything that differs from EC2.
 *
 * Stacks: dev and prd as committed (both x86_64: these machines run x86_64 binaries only, and an arm64 stack would
 * need the operator's releaseDigests, docs/configuration.md).
 *
 * Grafana, Loki, Tempo and otelcol-contrib have no binary here: the host installs a STAND-IN for each exactly like
 * the release (tests/boot/releases.ts). A stand-in proves only the delivery path (download, checksum, install,
 * unit, sandbox, credentials, data directory), never that the service runs with its rendered config.
 *
 * Prometheus here is Debian's 2.42, the pin is 3.x: every rendered flag and config key is one 2.42 also accepts
 * (Prometheus refuses unknown flags and keys at start, so the boot would fail here otherwise); a 3.x-only one must
 * be handled in tests/boot/releases.ts, stated, not silently dropped.
 *
 * One container is reused along the scenarios, in order: first boot → sandbox → config change → missing
 * permission → kill -9 → reboot → host replacement → missing volume; then a wrong bucket, a partitioned volume and
 * prd on their own roots.
 *
 * Needs root, systemd-nspawn, overlayfs and the Debian packages .ci/run installs: without them it is skipped with
 * a loud message, and under CI=true it fails instead.
 */
import { strict as assert } from "assert";
import { StackConfig } from "../../config/stack-config";
import { buildBundle } from "../../hostfiles/bundle";
import { DATA_FS_LABEL, DATA_MOUNT, dataVolumeDevice, SERVICE_UNITS, ServiceName, SERVICES } from "../../layout/host-layout";
import { placeholderUserDataContext } from "../../layout/host-file";
import { enabledUnits } from "../../hostfiles/units";
import { stackConfig } from "../support/stacks";
import { BootLab, GuestHost, missingPrerequisites } from "./host";
import { REAL_SERVICES, STANDIN_SERVICES } from "./releases";
import { DATA_MOUNT_UNIT } from "../../hostfiles/data-volume-units";

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Polls `check` until it returns a value, or fails with `what` after `seconds`. */
function waitFor<T>(what: string, seconds: number, check: () => T | undefined | false): T {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    sleepMs(1000);
  }
}

/** Units of the services with state: their data directories on the volume. */
const STATEFUL = (Object.keys(SERVICES) as ServiceName[]).filter((s) => SERVICES[s].dataDir);

/** The data volume is mounted, by systemd's mount unit from the volume's by-id device. */
function assertMountedBySystemd(host: GuestHost): void {
  assert.equal(host.prop(DATA_MOUNT_UNIT, "ActiveState"), "active");
  assert.equal(host.prop(DATA_MOUNT_UNIT, "What"), dataVolumeDevice(host.userDataCtx.dataVolumeId));
  assert.equal(host.run(`findmnt -n -o FSTYPE ${DATA_MOUNT}`).trim(), "xfs");
}

function cursor(host: GuestHost): string {
  return /-- cursor: (.*)/.exec(host.run("journalctl -n 0 --show-cursor -q"))?.[1] ?? "";
}

function journalSince(host: GuestHost, c: string, unit?: string): string {
  return host.run(`journalctl --no-pager -o cat --after-cursor='${c}'${unit ? ` -u ${unit}` : ""}`);
}

/** Samples of the `prometheus` self-scrape up to time `at` (unix seconds): fixed once `at` has passed. */
function samplesBefore(host: GuestHost, at: number): number {
  const q = encodeURIComponent(`count_over_time(up{job="prometheus"}[6h] @ ${at})`);
  const doc = JSON.parse(host.run(`curl -sf 'http://127.0.0.1:${SERVICES.prometheus.ports.http}/api/v1/query?query=${q}'`)) as {
    data: { result: { value: [number, string] }[] };
  };
  return Number(doc.data.result[0]?.value[1] ?? 0);
}

function silenceIds(host: GuestHost): string[] {
  return host.run(`amtool --alertmanager.url=http://127.0.0.1:${SERVICES.alertmanager.ports.http} silence query -q`).trim().split("\n").filter(Boolean);
}

function serviceUnits(cfg: StackConfig): string[] {
  return enabledUnits(cfg).filter((u) => u.endsWith(".service"));
}

/** Every enabled unit active and never restarted by systemd (NRestarts=0), with the health check passing. */
function assertHealthyAndSteady(host: GuestHost, cfg: StackConfig): void {
  for (const unit of enabledUnits(cfg)) {
    const state = host.prop(unit, "ActiveState");
    if (state !== "active") assert.fail(`${unit} is ${state}:\n${host.exec(`journalctl -b -u ${unit} -n 30 --no-pager`).stdout}`);
  }
  for (const unit of serviceUnits(cfg)) assert.equal(host.prop(unit, "NRestarts"), "0", `${unit} was restarted by systemd`);
}

const missing = missingPrerequisites();

describe("boot: the rendered host boots under real systemd (tests/boot)", function () {
  this.timeout(30 * 60_000);
  let lab: BootLab;

  before(function () {
    if (missing.length) {
      const what = `BOOT TEST NOT RUN: this machine lacks ${missing.join(", ")}. Install them (.ci/run does) and run as root.`;
      if (process.env.CI === "true") throw new Error(`${what} Under CI=true that is a failure.`);
      console.warn(`\n  ${"!".repeat(100)}\n  ${what}\n  ${"!".repeat(100)}\n`);
      this.skip();
    }
    lab = BootLab.create();
  });
  after(() => lab?.teardown());

  describe("dev stack: one host through its life", () => {
    const cfg = stackConfig("dev");
    let host: GuestHost;
    let uids: Record<string, string> = {};
    let silenceId = "";
    /** A time before the first kill: the samples up to it must survive every scenario. */
    let keptAt = 0;
    let keptSamples = 0;

    before(() => {
      host = lab.host({ cfg });
      host.boot();
    });

    it("first boot on a blank volume: formats and mounts it, every unit active, none restarted, health check passes", () => {
      const out = host.waitHealthy({ timeoutSec: 300 });
      assert.match(out, /monitoring host is healthy/);
      assertHealthyAndSteady(host, cfg);
      // The label XFS accepted (mkfs.xfs refuses more than 12 characters), and the volume mounted by systemd's mount
      // unit (user data) from its by-id device, not by an fstab line.
      const device = dataVolumeDevice(host.userDataCtx.dataVolumeId);
      assert.equal(host.run(`blkid -p -s LABEL -o value ${device}`).trim(), DATA_FS_LABEL);
      assertMountedBySystemd(host);
      assert.doesNotMatch(host.run("cat /etc/fstab"), new RegExp(` ${DATA_MOUNT} `));
      // Each service runs as its own user and owns its data directory (StateDirectory=).
      for (const s of STATEFUL) {
        const { user, dataDir } = SERVICES[s];
        assert.equal(host.run(`stat -c %U:%G ${dataDir}`).trim(), `${user}:${user}`, dataDir);
        uids[user] = host.run(`id -u ${user}`).trim();
      }
      for (const s of Object.keys(SERVICES) as ServiceName[]) {
        const pid = host.prop(SERVICE_UNITS[s], "MainPID");
        assert.equal(host.run(`ps -o uid= -p ${pid}`).trim(), host.run(`id -u ${SERVICES[s].user}`).trim(), `${s} does not run as ${SERVICES[s].user}`);
      }
      // The stand-ins read their config and credentials and wrote into their data directory under the unit.
      for (const s of STANDIN_SERVICES) assert.equal(host.exec(`test -s ${SERVICES[s].dataDir}/boot-test-stand-in`).status, 0, `${s} stand-in did not start`);
      // The real AWS CLI signed every request for the stack's region (exported from bootstrap.json; IMDS here has no region).
      const signed = lab.requests().filter((r) => r.service === "s3" || r.service === "ssm");
      assert.ok(signed.some((r) => r.service === "s3") && signed.some((r) => r.service === "ssm"), "the host never asked S3 and SSM");
      assert.deepEqual([...new Set(signed.map((r) => r.region))], [cfg.region]);
    });

    it("an ssh login with a key from the bundle works (real sshd; its drop-in was reloaded by the apply step)", () => {
      const res = host.ssh("id -un && sudo -n true && echo sudo-ok");
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^${cfg.access.sshUser}\\nsudo-ok`));
      // The effective sshd settings are the drop-in's (reloaded, not only written).
      assert.match(host.run("sshd -T -C user=nobody,host=x,addr=127.0.0.1"), /^authorizedkeysfile .ssh\/authorized_keys \/etc\/monitoring-host\/authorized_keys\/%u$/m);
      assert.match(host.run("journalctl -u ssh.service -o cat --no-pager"), /Reload/);
    });

    it("node_exporter's netdev and timex collectors work under the unit (AF_NETLINK, adjtimex)", () => {
      const metrics = host.run(`curl -sf http://127.0.0.1:${SERVICES.nodeExporter.ports.http}/metrics | grep -E '^node_(scrape_collector_success|timex_sync_status)'`);
      for (const c of ["netdev", "timex", "filesystem", "meminfo"]) {
        assert.match(metrics, new RegExp(`^node_scrape_collector_success\\{collector="${c}"\\} 1$`, "m"), `collector ${c} failed`);
      }
      assert.match(metrics, /^node_timex_sync_status /m);
    });

    it("the sandbox is real: a loopback-only unit cannot reach IMDS, while the host can", () => {
      const probe = "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://169.254.169.254/latest/meta-data/";
      // Control: outside any unit the link-local address answers (401 without a token).
      assert.equal(host.exec(probe).stdout.trim(), "401");
      const loopbackOnly = serviceUnits(cfg).filter((u) => host.prop(u, "IPAddressDeny").includes("0.0.0.0/0") || host.prop(u, "IPAddressDeny") === "any");
      assert.ok(loopbackOnly.includes(SERVICE_UNITS.prometheus) && loopbackOnly.includes(SERVICE_UNITS.nodeExporter), loopbackOnly.join(" "));
      for (const unit of loopbackOnly) {
        const cg = host.prop(unit, "ControlGroup");
        // The probe joins the unit's own cgroup, where systemd attached the unit's BPF firewall.
        const inUnit = host.exec(`echo $$ > /sys/fs/cgroup${cg}/cgroup.procs && exec ${probe}`);
        assert.notEqual(inUnit.stdout.trim(), "401", `${unit}: IMDS answered from inside the unit's cgroup`);
        assert.notEqual(inUnit.status, 0, `${unit}: the connection did not fail`);
        const local = host.exec(`echo $$ > /sys/fs/cgroup${cg}/cgroup.procs && exec curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:${SERVICES.prometheus.ports.http}/-/ready`);
        assert.equal(local.stdout.trim(), "200", `${unit}: loopback must stay reachable`);
      }
    });

    it("a config change in S3 is synced and applied: only the affected service is reloaded, health passes with the new ETag", () => {
      // A rule annotation changes (the alerts' runbook links move below another runbookBaseUrl): what the bundle diff
      // says must happen, happens.
      const changed: StackConfig = { ...cfg, runbookBaseUrl: `${(cfg.runbookBaseUrl ?? "https://runbooks.acme.internal").replace(/\/$/, "")}/boot-test-changed` };
      const before = new Map(buildBundle(host.cfg, host.ctx).files.map((f) => [f.path, f]));
      const after = buildBundle({ ...changed, access: host.cfg.access }, host.ctx).files;
      const actions = new Map<string, string>();
      for (const f of after) if (before.get(f.path)?.content !== f.content && f.onChange) actions.set(f.onChange.unit, f.onChange.action);
      assert.deepEqual([...actions], [[SERVICE_UNITS.prometheus, "reload"]], "the change should touch the rule files only");

      const pids = Object.fromEntries(serviceUnits(cfg).map((u) => [u, host.prop(u, "MainPID")]));
      const c = cursor(host);
      const etag = host.upload({ ...changed, access: host.cfg.access });
      const res = host.healthCheck({ expectEtag: etag, timeoutSec: 240 });
      assert.equal(res.status, 0, res.stdout);
      assert.match(res.stdout, /config bundle \S+ applied/);
      for (const unit of serviceUnits(cfg)) {
        assert.equal(host.prop(unit, "MainPID"), pids[unit], `${unit} was restarted`);
        const reloaded = /^Reload(ing|ed) /m.test(journalSince(host, c, unit));
        assert.equal(reloaded, actions.get(unit) === "reload", `${unit}: reloaded=${reloaded}`);
      }
      // The reload took effect: Prometheus serves the new annotation.
      assert.match(host.run(`curl -sf http://127.0.0.1:${SERVICES.prometheus.ports.http}/api/v1/rules`), /boot-test-changed/);
      assertHealthyAndSteady(host, cfg);
    });

    it("a missing permission (s3:GetObject denied) gives a clear error naming the bucket and the action in the journal within 2 minutes", () => {
      const c = cursor(host);
      lab.deny(["s3:GetObject"]);
      try {
        // The timer polls every 90 s; starting the poll now only saves the wait.
        host.run("systemctl start --no-block monitoring-sync.service");
        const log = waitFor("the sync error in the journal", 120, () => {
          const j = journalSince(host, c, "monitoring-sync.service");
          return /cannot read s3:\/\//.test(j) && j;
        });
        assert.match(log, new RegExp(`cannot read s3://${host.userDataCtx.configBucket}/${host.userDataCtx.configObjectKey}`));
        assert.match(log, /s3:GetObject/);
        assert.match(log, /\(403\)|Forbidden|AccessDenied/);
      } finally {
        lab.deny([]);
      }
    });

    it("kill -9 of each real service: systemd restarts it and nothing is lost (TSDB samples, silences)", () => {
      silenceId = host.run(`amtool --alertmanager.url=http://127.0.0.1:${SERVICES.alertmanager.ports.http} silence add alertname=BootTestSilence -c "boot test" -d 48h`).trim();
      assert.match(silenceId, /^[0-9a-f-]{36}$/);
      // Alertmanager writes silences at every maintenance interval (1m) and at shutdown: a SIGKILL keeps what was written.
      const created = Date.now();
      const silences = `${SERVICES.alertmanager.dataDir}/silences`;
      waitFor("Alertmanager's silence snapshot", 90, () => Number(host.run(`stat -c %Y ${silences} 2>/dev/null || echo 0`).trim()) * 1000 > created);
      keptAt = Math.floor(Date.now() / 1000) - 1;
      keptSamples = samplesBefore(host, keptAt);
      assert.ok(keptSamples > 0, "Prometheus has not scraped itself yet");
      for (const s of REAL_SERVICES) {
        const unit = SERVICE_UNITS[s];
        const pid = host.prop(unit, "MainPID");
        const restarts = Number(host.prop(unit, "NRestarts"));
        host.run(`kill -9 ${pid}`);
        waitFor(`${unit} to come back`, 60, () => host.prop(unit, "ActiveState") === "active" && host.prop(unit, "MainPID") !== pid && host.prop(unit, "MainPID") !== "0");
        assert.equal(Number(host.prop(unit, "NRestarts")), restarts + 1, `${unit} was not restarted by systemd`);
      }
      const res = host.healthCheck({ timeoutSec: 120 });
      assert.equal(res.status, 0, res.stdout);
      assert.equal(samplesBefore(host, keptAt), keptSamples, "samples from before the kill are gone");
      assert.ok(silenceIds(host).includes(silenceId), "the silence did not survive the kill");
    });

    it("reboot: healthy again, TSDB samples and Alertmanager silences kept, nothing restarted", () => {
      host.poweroff();
      host.boot();
      host.waitHealthy({ timeoutSec: 240 });
      // Mounted by systemd at boot (the services pull the mount unit in); the bootstrap does not run again.
      assertMountedBySystemd(host);
      assertHealthyAndSteady(host, cfg);
      assert.equal(samplesBefore(host, keptAt), keptSamples, "samples lost across the reboot");
      assert.ok(silenceIds(host).includes(silenceId), "the silence did not survive the reboot");
      // The bootstrap does not run again once a bundle was applied.
      assert.doesNotMatch(host.run("journalctl -b -o cat --no-pager -u cloud-final.service"), /monitoring-sync: fetching bundle/);
    });

    it("host replacement: a new root on the same data volume with shifted uids keeps the data, repairs ownership, is healthy", () => {
      host.poweroff();
      const replacement = lab.host({ cfg, volume: host.volume, uidShift: 3, instanceId: `i-replaced${Date.now().toString(16)}` });
      host = replacement;
      host.boot();
      host.waitHealthy({ timeoutSec: 300 });
      assertHealthyAndSteady(host, cfg);
      assert.match(host.run("journalctl -b -o cat --no-pager -u cloud-final.service"), /already has a filesystem \(TYPE="?xfs"?\); keeping its data/);
      let shifted = 0;
      for (const s of STATEFUL) {
        const { user, dataDir } = SERVICES[s];
        if (host.run(`id -u ${user}`).trim() !== uids[user]) shifted++;
        // Every file, however deep, belongs to the new uid (systemd's StateDirectory= chown), and the service writes.
        assert.equal(host.run(`find ${dataDir} ! -user ${user} -printf '%p %u\\n' | head -5`), "", `${dataDir} still has foreign owners`);
      }
      assert.equal(shifted, STATEFUL.length, "the uids were not shifted: the test would prove nothing");
      assert.equal(samplesBefore(host, keptAt), keptSamples, "samples lost in the replacement");
      assert.ok(silenceIds(host).includes(silenceId), "the silence did not survive the replacement");
      // The old host's samples are still there and the new one appends: the TSDB is writable by the new uid.
      waitFor("new samples after the replacement", 60, () => samplesBefore(host, Math.floor(Date.now() / 1000)) > keptSamples);
    });

    it("a missing volume: no service with state starts and nothing is written to the root volume's mount point", () => {
      host.poweroff();
      host.boot("missing");
      try {
        waitFor("the mount to fail", 120, () => host.prop(DATA_MOUNT_UNIT, "ActiveState") === "failed");
        // systemd brought up what does not need the volume, and not what does (RequiresMountsFor=).
        waitFor("boot to settle", 120, () => !/^(initializing|starting)$/.test(host.exec("systemctl is-system-running").stdout.trim()));
        assert.equal(host.prop("monitoring-secrets.service", "ActiveState"), "active");
        for (const s of STATEFUL) assert.notEqual(host.prop(SERVICE_UNITS[s], "ActiveState"), "active", `${s} runs without its data volume`);
        assert.notEqual(host.prop(SERVICE_UNITS.nodeExporter, "ActiveState"), "active", "node_exporter runs without the data volume");
        // The apply step does not start either: its files include some on the volume.
        const c = cursor(host);
        const t0 = Date.now();
        const res = host.exec("systemctl start monitoring-apply.service", { timeoutMs: 60_000 });
        assert.notEqual(res.status, 0);
        assert.ok(Date.now() - t0 < 30_000, "the apply step waited for a device that is not there");
        assert.match(res.stderr, /dependency job for monitoring-apply\.service failed/i);
        waitFor("the failed mount in the journal", 30, () => /Failed to mount var-lib-monitoring\.mount|Dependency failed for/.test(journalSince(host, c)));
        assert.notEqual(host.exec(`mountpoint -q ${DATA_MOUNT}`).status, 0);
        assert.equal(host.run(`find ${DATA_MOUNT} -mindepth 1 | head -5`), "", "something wrote to the root volume below the mount point");
      } finally {
        host.poweroff();
      }
    });
  });

  describe("a wrong bucket", () => {
    it("names the bucket, the key and the permission in the journal within 2 minutes of boot", () => {
      const cfg = stackConfig("dev");
      const host = lab.host({ cfg, userDataCtx: { ...placeholderUserDataContext(cfg.stack), configBucket: "boot-test-no-such-bucket" }, bucketExists: false });
      const started = Date.now();
      host.boot();
      try {
        const log = waitFor("the bootstrap's error in the journal", 120, () => {
          const j = host.run("journalctl -b -o cat --no-pager");
          return /cannot read s3:\/\/boot-test-no-such-bucket\//.test(j) && j;
        });
        console.log(`      wrong bucket reported ${Math.round((Date.now() - started) / 1000)} s after boot`);
        assert.match(log, /cannot read s3:\/\/boot-test-no-such-bucket\/hosts\/dev\/bundle\.json \(HeadObject; the instance role needs s3:GetObject on it\), attempt 1 of \d+: .*\(404\)/);
      } finally {
        host.poweroff();
      }
    });
  });

  describe("a data volume that holds a partition table but no filesystem", () => {
    it("is never formatted: the apply step stops with a message and the partition table is still there", () => {
      const cfg = stackConfig("dev");
      const volume = lab.volume();
      // A GPT written from outside (util-linux sfdisk on the backing file), as another instance might have left it.
      lab.partition(volume);
      const host = lab.host({ cfg, volume });
      host.boot();
      try {
        const log = waitFor("the apply step's refusal in the journal", 180, () => {
          const j = host.run("journalctl -b -o cat --no-pager -u cloud-final.service");
          return /refusing to format it/.test(j) && j;
        });
        assert.match(log, /data volume \/dev\/disk\/by-id\/nvme-Amazon_Elastic_Block_Store_vol\w+ carries a signature but no filesystem \(.*PTTYPE="?gpt/);
        assert.doesNotMatch(log, /creating an XFS filesystem/);
      } finally {
        host.poweroff();
      }
      assert.equal(lab.probe(volume, "PTTYPE"), "gpt");
      assert.equal(lab.probe(volume, "TYPE"), "");
    });
  });

  describe("prd stack as committed", () => {
    it("first boot on a blank volume: every unit active, none restarted, health check passes, ssh login works", () => {
      const cfg = stackConfig("prd");
      assert.equal(cfg.architecture, "x86_64", "these machines run x86_64 binaries only");
      const host = lab.host({ cfg });
      host.boot();
      try {
        host.waitHealthy({ timeoutSec: 300 });
        assertHealthyAndSteady(host, cfg);
        const res = host.ssh("id -un");
        assert.equal(res.status, 0, res.stderr);
        assert.equal(res.stdout.trim(), cfg.access.sshUser);
      } finally {
        host.poweroff();
      }
    });
  });
});
