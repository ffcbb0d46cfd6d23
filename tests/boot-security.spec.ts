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
import { stackConfig } from "./support/stacks";
import { AGENT, SERVICE_UNITS } from "../layout/host-layout";
import { IMDS_ADDRESSES } from "../hostfiles/systemd-unit";

const IMDS = IMDS_ADDRESSES[0];

describe("boot: IMDS is denied to every unit that needs no instance role (real systemd)", function () {
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
});
