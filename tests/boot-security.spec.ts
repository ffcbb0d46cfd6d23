/**
 * Instance metadata (IMDS) denial, proven under real systemd: the dev host is booted in systemd-nspawn with the BPF
 * IP firewall working (tests/boot/host.ts), and a probe process is moved into a unit's own cgroup — where the
 * unit's rendered IPAddressDeny=/IPAddressAllow= apply — before it connects to 169.254.169.254 (the lab's IMDS).
 * The collector (the only listener reachable from the VPC) and Alertmanager must fail to connect; Loki, Tempo (S3
 * writers) and the sync step must reach it. tests/units.spec.ts checks the same rule on every rendered unit of
 * several configs; this spec shows systemd enforces it. On the same booted host: a unit that does not come back after
 * an apply fails the apply and the health check, and a release whose download does not match its pinned SHA-256 is
 * refused by the real sync step (tests/host-agent/ shows the same decisions against fake systemctl and curl).
 *
 * Needs root and the boot-test tools (tests/boot/host.ts `missingPrerequisites`); skipped loudly without them, and
 * under CI=true it fails instead (like tests/boot/boot.spec.ts).
 */
import { strict as assert } from "assert";
import { BootLab, GuestHost, missingPrerequisites } from "./boot/host";
import { stackConfig } from "./support/stacks";
import { AGENT, BIN_ROOT, SERVICE_UNITS } from "../layout/host-layout";
import { IMDS_ADDRESSES } from "../hostfiles/systemd-unit";

const IMDS = IMDS_ADDRESSES[0];

describe("boot: IMDS denied to units without need of the role; failed restarts and unverified releases stop the apply (real systemd)", function () {
  this.timeout(15 * 60_000);
  let lab: BootLab | undefined;
  let host: GuestHost;

  before(function () {
    const missing = missingPrerequisites();
    if (missing.length > 0) {
      const what = `BOOT SECURITY TEST NOT RUN: this machine lacks ${missing.join(", ")}. Install them (.ci/run does) and run as root.`;
      if (process.env.CI) throw new Error(what);
      console.warn(`\n  !!! ${what}\n`);
      this.skip();
    }
    lab = BootLab.create();
    host = lab.host({ cfg: stackConfig("dev") });
    host.boot();
    host.waitHealthy({ timeoutSec: 600 });
  });

  after(() => lab?.teardown());

  /**
   * Moves a shell into `unit`'s cgroup (the firewall is attached there) and asks IMDS for a session token, as the
   * AWS SDKs do first. Returns curl's exit status and the HTTP code.
   */
  const probe = (unit?: string) => {
    const join = unit ? `echo $$ > "/sys/fs/cgroup$(systemctl show -p ControlGroup --value ${unit})/cgroup.procs" && ` : "";
    const r = host.exec(
      `${join}exec curl -sS -m 5 -o /dev/null -w '%{http_code}' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://${IMDS}/latest/api/token`,
      { timeoutMs: 30_000 },
    );
    return { status: r.status, code: r.stdout.trim(), err: r.stderr };
  };

  it("the probe reaches IMDS from outside any unit (the lab's IMDS answers)", () => {
    const r = probe();
    assert.equal(r.status, 0, r.err);
    assert.equal(r.code, "200");
  });

  for (const name of ["otelcol", "alertmanager"] as const) {
    it(`${SERVICE_UNITS[name]} cannot connect to ${IMDS}`, () => {
      assert.equal(host.prop(SERVICE_UNITS[name], "ActiveState"), "active");
      const r = probe(SERVICE_UNITS[name]);
      assert.notEqual(r.status, 0, `connected (HTTP ${r.code})`);
      assert.equal(r.code, "000");
    });
  }

  for (const name of ["loki", "tempo"] as const) {
    it(`${SERVICE_UNITS[name]} (writes S3 with the instance role) reaches ${IMDS}`, () => {
      const r = probe(SERVICE_UNITS[name]);
      assert.equal(r.status, 0, r.err);
      assert.equal(r.code, "200");
    });
  }

  it("the sync step gets the instance role's credentials from IMDS and reads the bundle with them", () => {
    const before = lab!.requests().length;
    host.run(`systemctl start ${AGENT.syncUnit}`, { timeoutMs: 300_000 });
    assert.equal(host.prop(AGENT.syncUnit, "Result"), "success");
    const seen = lab!.requests().slice(before);
    assert.ok(seen.some((r) => r.service === "imds"), `no IMDS request during the sync: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((r) => r.service === "s3"), `no S3 request during the sync: ${JSON.stringify(seen)}`);
    // The secrets step too (it ran at boot and read SSM with the same credentials).
    assert.equal(host.prop(AGENT.secretsUnit, "Result"), "success");
  });

  // The real-systemd side of tests/host-agent/apply.spec.ts "a unit that does not come back fails the apply" (fake
  // systemctl there): the booted host's apply restarts a unit that then exits, and must not record the bundle.
  it("a service that does not come back after an apply fails the apply and the health check, naming it with its journal", () => {
    const applied = host.run(`cat ${AGENT.appliedMarker}`).trim();
    const unitName = SERVICE_UNITS.nodeExporter;
    // TEST ONLY: node_exporter's unit given a flag it does not know (it exits at start, systemd restarts it).
    const broken = host.upload(host.cfg, (bundle) => {
      const unit = bundle.files.find((f) => f.path.endsWith(`/${unitName}`));
      assert.ok(unit, `${unitName} is not in the bundle`);
      unit.content = unit.content.replace(/^(ExecStart=.*)$/m, "$1 --boot-test-no-such-flag");
    });
    const r = host.healthCheck({ expectEtag: broken, timeoutSec: 240 });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`was not applied: .*${unitName.replace(".", "\\.")}.*did not reload/restart and stay up`, "s"));
    assert.match(r.stdout, /boot-test-no-such-flag/, "the unit's journal tail is in the report");
    assert.equal(host.run(`cat ${AGENT.appliedMarker}`).trim(), applied, "the failed bundle is not recorded as applied");
    // The good bundle again: applied, healthy.
    const good = host.upload(host.cfg);
    host.waitHealthy({ expectEtag: good, timeoutSec: 300 });
  });

  // The real-host side of tests/host-agent/sync.spec.ts "release downloads are verified against the pinned SHA-256"
  // (fake curl there): the real sync step, real curl from the lab's release site, real sha256sum.
  it("a release whose download does not match the pinned SHA-256 is refused: the sync fails naming it, nothing is applied", () => {
    const applied = host.run(`cat ${AGENT.appliedMarker}`).trim();
    // An installed version is not downloaded again; forget node_exporter's, as on a host that has yet to install it.
    host.run(`rm -f ${BIN_ROOT}/installed/nodeExporter`);
    let artifact = "";
    // TEST ONLY: node_exporter's pinned digest replaced by one no archive has (a tampered or swapped release).
    const tampered = host.upload(host.cfg, (bundle) => {
      const entry = bundle.versions.find((v) => v.name === "nodeExporter");
      assert.ok(entry, `nodeExporter is not in the bundle's versions: ${bundle.versions.map((v) => v.name).join(", ")}`);
      artifact = entry.artifact;
      entry.sha256 = "0".repeat(64);
    });
    const r = host.exec(`systemctl start ${AGENT.syncUnit}`, { timeoutMs: 300_000 });
    assert.notEqual(r.status, 0, "the sync step succeeded with a digest no archive has");
    const journal = host.exec(`journalctl -u ${AGENT.syncUnit} --no-pager -n 40`).stdout;
    assert.match(journal, new RegExp(`checksum mismatch for ${artifact.replace(/[.]/g, "\\.")}: pinned 0{64}`), journal);
    assert.equal(host.run(`cat ${AGENT.appliedMarker}`).trim(), applied, "the tampered bundle is not recorded as applied");
    assert.notEqual(applied, tampered.replace(/"/g, ""));
    assert.equal(host.prop(SERVICE_UNITS.nodeExporter, "ActiveState"), "active", "the installed release keeps running");
    // The pinned bundle again: downloaded, verified, applied, healthy.
    const good = host.upload(host.cfg);
    host.run(`systemctl start ${AGENT.syncUnit}`, { timeoutMs: 300_000 });
    host.waitHealthy({ expectEtag: good, timeoutSec: 300 });
  });
});
