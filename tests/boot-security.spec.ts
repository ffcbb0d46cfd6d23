/**
 * Instance metadata (IMDS) denial, proven under real systemd: the dev host is booted in systemd-nspawn with the BPF
 * IP firewall working (tests/boot/host.ts), and a probe process is moved into a unit's own cgroup — where the
 * unit's rendered IPAddressDeny=/IPAddressAllow= apply — before it connects to 169.254.169.254 (the lab's IMDS).
 * The collector (the only listener reachable from the VPC) and Alertmanager must fail to connect; Loki, Tempo (S3
 * writers) and the sync step must reach it. tests/units.spec.ts checks the same rule on every rendered unit of
 * several configs; this spec shows systemd enforces it.
 *
 * Needs root and the boot-test tools (tests/boot/host.ts `missingPrerequisites`); skipped loudly without them, and
 * under CI=true it fails instead (like tests/boot/boot.spec.ts).
 */
import { strict as assert } from "assert";
import { BootLab, GuestHost, missingPrerequisites } from "./boot/host";
import { SERVICE_UNITS } from "../hostfiles/services/common";
import { AGENT, IMDS_ADDRESSES } from "../hostfiles/units";
import { stackConfig } from "./support/stacks";
import { renderBundle } from "../hostfiles/bundle";
import { withStandInDigests } from "./boot/releases";

const IMDS = IMDS_ADDRESSES[0];

describe("boot: IMDS denied to units without need of the instance role; a unit that fails its restart fails the apply (real systemd)", function () {
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

  it("a service that does not come back after an apply fails the apply and the deploy check, naming it with its journal", () => {
    const applied = host.run("cat /var/lib/monitoring-host/applied-etag").trim();
    // TEST ONLY: the rendered bundle with node_exporter's unit given a flag it does not know (it exits at start,
    // systemd restarts it): what a bad release or config does to a service.
    const bundle = JSON.parse(withStandInDigests(renderBundle(host.cfg, host.ctx), lab!.releases(host.cfg.architecture).digests));
    const unit = bundle.files.find((f: { path: string }) => f.path.endsWith(`/${SERVICE_UNITS.nodeExporter}`));
    unit.content = unit.content.replace(/^(ExecStart=.*)$/m, "$1 --boot-test-no-such-flag");
    const broken = lab!.putObject(host.ctx.configBucket, host.ctx.configObjectKey, JSON.stringify(bundle));
    const r = host.healthCheck({ expectEtag: broken, timeoutSec: 240 });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`FAILED: config bundle ${broken.replace(/"/g, "")} was not applied: ${SERVICE_UNITS.nodeExporter.replace(".", "\\.")} did not reload/restart and stay up`));
    assert.match(r.stdout, /boot-test-no-such-flag/, "the unit's journal tail is in the report");
    assert.equal(host.run("cat /var/lib/monitoring-host/applied-etag").trim(), applied, "the failed bundle is not recorded as applied");
    // The good bundle again: applied, healthy.
    host.upload(host.cfg);
    host.waitHealthy({ expectEtag: host.etag, timeoutSec: 300 });
  });
});
