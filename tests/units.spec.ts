/**
 * The systemd units: `systemd-analyze verify` with empty stderr, an exposure score of at most 2.0 for every
 * service, each service as its own unprivileged user with only its own data directory writable and only its own
 * secrets, command lines from services/flags.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DATA_MOUNT, SERVICES, ServiceName } from "../hostfiles/layout";
import { secretFiles } from "../hostfiles/secrets";
import { serviceFlags } from "../hostfiles/services/flags";
import { SERVICE_UNITS } from "../hostfiles/services/common";
import type { HostFile } from "../hostfiles/types";
import { AGENT, enabledUnits, execWord, renderServiceUnit, unitFiles } from "../hostfiles/units";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

/** `Key=value` settings of one section (repeated keys keep every value, in order). */
function section(unit: string, name: string): [string, string][] {
  const m = new RegExp(`^\\[${name}\\]\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(unit);
  if (!m) return [];
  return m[1]
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]);
}
const values = (unit: string, sec: string, key: string) => section(unit, sec).filter(([k]) => k === key).map(([, v]) => v);
const value = (unit: string, sec: string, key: string) => values(unit, sec, key).at(-1);

/**
 * TEST ONLY: `systemd-analyze verify` fails when an ExecStart binary is missing on the machine running it. The
 * host's binaries are not installed here, so each absolute ExecStart path is swapped for a stand-in executable in
 * `dir` (a copy of /bin/true with the same file name). Nothing else in the unit changes.
 */
function withStandInExecutables(unit: string, dir: string): string {
  return unit.replace(/^(ExecStart=)(\/\S+)/gm, (_all, key: string, bin: string) => {
    const standIn = path.join(dir, "stand-in-bin", path.basename(bin));
    fs.mkdirSync(path.dirname(standIn), { recursive: true });
    if (!fs.existsSync(standIn)) fs.copyFileSync("/bin/true", standIn);
    fs.chmodSync(standIn, 0o755);
    return `${key}${standIn}`;
  });
}

function writeUnits(dir: string, units: HostFile[], standIns: boolean): void {
  for (const u of units) {
    fs.writeFileSync(path.join(dir, path.basename(u.path)), standIns ? withStandInExecutables(u.content, dir) : u.content);
  }
}

function securityScore(dir: string, name: string): { status: number; score: number; out: string } {
  const res = run("systemd-analyze", ["security", "--offline=true", "--threshold=20", `./${name}`], { cwd: dir });
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(res.stdout + res.stderr);
  return { status: res.status, score: m ? Number(m[1]) : NaN, out: res.stdout + res.stderr };
}

for (const stack of ["dev", "prd"]) {
  describe(`systemd units (${stack})`, () => {
    const cfg = stackConfig(stack);
    const units = unitFiles(cfg);
    const byName = new Map(units.map((u) => [path.basename(u.path), u.content]));
    let tmp: ReturnType<typeof tempDir>;
    before(() => {
      tmp = tempDir("monhost-units-");
    });
    after(() => tmp.cleanup());

    it("has a unit for every service and for the host agent", () => {
      for (const name of Object.values(SERVICE_UNITS)) assert.ok(byName.has(name), name);
      for (const name of [AGENT.secretsUnit, AGENT.syncUnit, AGENT.syncTimer, AGENT.applyUnit, AGENT.applyPath]) assert.ok(byName.has(name), name);
      for (const name of enabledUnits(cfg)) assert.ok(byName.has(name), `${name} is enabled but has no unit file`);
    });

    it("pass `systemd-analyze verify` with empty stderr", function () {
      requireTool(this, "systemd-analyze");
      const dir = path.join(tmp.dir, "verify");
      fs.mkdirSync(dir);
      writeUnits(dir, units, true);
      for (const name of byName.keys()) {
        const res = run("systemd-analyze", ["verify", `./${name}`], { cwd: dir });
        assert.equal(res.stderr.trim(), "", `${name}: ${res.stderr}`);
        assert.equal(res.status, 0, name);
      }
    });

    it("every service scores at most 2.0 in `systemd-analyze security --offline=true --threshold=20`", function () {
      requireTool(this, "systemd-analyze");
      const dir = path.join(tmp.dir, "security");
      fs.mkdirSync(dir);
      writeUnits(dir, units, false);
      const scores: string[] = [];
      for (const name of [...byName.keys()].filter((n) => n.endsWith(".service"))) {
        const r = securityScore(dir, name);
        scores.push(`${name} ${r.score}`);
        assert.equal(r.status, 0, `${name} is above the threshold:\n${r.out.split("\n").slice(-3).join("\n")}`);
        assert.ok(r.score <= 2.0, `${name}: ${r.score}`);
      }
      console.log(`      exposure: ${scores.join(", ")}`);
    });

    it("runs each service as its own unprivileged user, with only its own data directory writable", () => {
      for (const name of Object.keys(SERVICES) as ServiceName[]) {
        const s = SERVICES[name];
        const unit = byName.get(SERVICE_UNITS[name])!;
        assert.equal(value(unit, "Service", "User"), s.user, name);
        assert.notEqual(s.user, "root");
        assert.deepEqual(values(unit, "Service", "ReadWritePaths"), s.dataDir ? [s.dataDir] : [], name);
        assert.equal(value(unit, "Service", "ProtectSystem"), "strict", name);
        assert.equal(value(unit, "Service", "CapabilityBoundingSet"), "", name);
        assert.equal(value(unit, "Service", "NoNewPrivileges"), "yes", name);
        if (s.dataDir) assert.deepEqual(values(unit, "Unit", "RequiresMountsFor"), [s.dataDir], name);
      }
    });

    it("starts each service with its binary and the flags from services/flags.ts", () => {
      const flags = serviceFlags(cfg);
      for (const name of Object.keys(SERVICES) as ServiceName[]) {
        const unit = byName.get(SERVICE_UNITS[name])!;
        assert.equal(value(unit, "Service", "ExecStart"), [SERVICES[name].bin, ...flags[name]].map(execWord).join(" "), name);
      }
      // Prometheus and Alertmanager reload in place on SIGHUP: a rule or route change is no restart.
      for (const name of ["prometheus", "alertmanager"] as const) {
        assert.equal(value(byName.get(SERVICE_UNITS[name])!, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
      }
    });

    it("hands each service only its own secrets, at the paths its config reads", () => {
      const secrets = secretFiles(cfg);
      for (const name of Object.values(SERVICE_UNITS)) {
        const unit = byName.get(name)!;
        const expected = secrets.filter((s) => s.unit === name).map((s) => `${s.credential}:${s.sourcePath}`);
        assert.deepEqual(values(unit, "Service", "LoadCredential"), expected, name);
        if (expected.length > 0) {
          assert.ok(values(unit, "Unit", "Requires").includes(AGENT.secretsUnit), name);
          assert.ok(values(unit, "Unit", "After").includes(AGENT.secretsUnit), name);
        }
      }
      for (const s of secrets) assert.equal(s.path, `/run/credentials/${s.unit}/${s.credential}`);
      // The secrets reader needs no user of its own and keeps the files in tmpfs only it can read.
      const reader = byName.get(AGENT.secretsUnit)!;
      assert.equal(value(reader, "Service", "DynamicUser"), "yes");
      assert.equal(value(reader, "Service", "RuntimeDirectoryMode"), "0700");
    });

    it("keeps node_exporter able to read /proc, /sys and the data volume's filesystem", () => {
      const unit = byName.get(SERVICE_UNITS.nodeExporter)!;
      assert.equal(value(unit, "Service", "ProtectProc"), "default");
      assert.equal(value(unit, "Service", "ProcSubset"), "all");
      assert.deepEqual(values(unit, "Unit", "RequiresMountsFor"), [DATA_MOUNT]);
      for (const key of ["InaccessiblePaths", "TemporaryFileSystem", "ProtectSystem"]) {
        for (const v of values(unit, "Service", key)) assert.doesNotMatch(v, /\/proc|\/sys|\/var\/lib\/monitoring/, key);
      }
    });

    it("gives the network only to what needs it: apply has none, the sync and secrets steps are unprivileged", () => {
      const apply = byName.get(AGENT.applyUnit)!;
      assert.equal(value(apply, "Service", "PrivateNetwork"), "yes");
      assert.equal(value(apply, "Service", "RestrictAddressFamilies"), "AF_UNIX");
      assert.equal(value(byName.get(AGENT.syncUnit)!, "Service", "User"), "monitoring-sync");
      for (const name of ["prometheus", "grafana", "nodeExporter"] as const) {
        const unit = byName.get(SERVICE_UNITS[name])!;
        assert.equal(value(unit, "Service", "IPAddressDeny"), "any", name);
        assert.equal(value(unit, "Service", "IPAddressAllow"), "localhost", name);
      }
      const timer = byName.get(AGENT.syncTimer)!;
      assert.match(value(timer, "Timer", "OnUnitInactiveSec")!, /^\d+s$/);
      assert.equal(value(byName.get(AGENT.applyPath)!, "Path", "Unit"), AGENT.applyUnit);
    });
  });
}

describe("Prometheus' network reach", () => {
  const prometheusUnit = (overrides: Record<string, unknown>) =>
    unitFiles(stackConfig("dev", overrides)).find((f) => f.path.endsWith("/prometheus.service"))!.content;
  const targets = [{ service: "appointments-api", targets: ["10.0.4.5:9464"] }];

  it("is loopback only without directly scraped applications", () => {
    assert.equal(value(prometheusUnit({}), "Service", "IPAddressDeny"), "any");
    assert.equal(value(prometheusUnit({}), "Service", "IPAddressAllow"), "localhost");
  });

  it("adds the application networks when it scrapes applications (else their scrapes are refused)", function () {
    const unit = prometheusUnit({ appScrapeTargets: targets });
    assert.equal(value(unit, "Service", "IPAddressDeny"), "any");
    assert.equal(value(unit, "Service", "IPAddressAllow"), "localhost 10.0.0.0/16");
    requireTool(this, "systemd-analyze");
    const t = tempDir();
    try {
      writeUnits(t.dir, [{ path: "/etc/systemd/system/prometheus.service", content: unit, mode: "0644", owner: "root:root" }], true);
      const res = run("systemd-analyze", ["verify", "./prometheus.service"], { cwd: t.dir });
      assert.equal(res.stderr.trim(), "", res.stderr);
      const score = securityScore(t.dir, "prometheus.service");
      assert.ok(score.status === 0 && score.score <= 2.0, `exposure ${score.score}`);
    } finally {
      t.cleanup();
    }
  });

  it("leaves the limit to the security group's egress rules when applications are known by security group", () => {
    const unit = prometheusUnit({ appScrapeTargets: targets, otlpAllowedSecurityGroupIds: ["sg-0123456789abcdef0"] });
    assert.equal(value(unit, "Service", "IPAddressDeny"), undefined);
  });
});

describe("unit rendering", () => {
  it("quotes ExecStart words that systemd would otherwise split or expand", () => {
    assert.equal(execWord("--flag=value"), "--flag=value");
    assert.equal(execWord("--cluster.listen-address="), "--cluster.listen-address=");
    assert.equal(execWord("a b"), '"a b"');
    assert.equal(execWord("100%"), "100%%");
    assert.equal(execWord("$HOME"), "$$HOME");
    assert.equal(execWord(""), '""');
  });

  it("the security check can fail: an unsandboxed root service is far above 2.0", function () {
    requireTool(this, "systemd-analyze");
    const t = tempDir();
    try {
      fs.writeFileSync(path.join(t.dir, "bare.service"), "[Service]\nExecStart=/bin/true\n");
      const r = securityScore(t.dir, "bare.service");
      assert.notEqual(r.status, 0);
      assert.ok(r.score > 2.0);
    } finally {
      t.cleanup();
    }
  });

  it("the verify check can fail: an unknown setting is reported on stderr", function () {
    requireTool(this, "systemd-analyze");
    const t = tempDir();
    try {
      const unit = renderServiceUnit({
        name: "x.service",
        description: "x",
        type: "simple",
        user: "nobody",
        execStart: [["/bin/true"]],
        network: "loopback",
        extra: [["ProtectEverything", "yes"]],
      });
      fs.writeFileSync(path.join(t.dir, "x.service"), unit);
      const res = run("systemd-analyze", ["verify", "./x.service"], { cwd: t.dir });
      assert.match(res.stderr, /ProtectEverything/);
    } finally {
      t.cleanup();
    }
  });
});
