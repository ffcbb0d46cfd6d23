/**
 * The systemd units: `systemd-analyze verify` with empty stderr, an exposure score of at most 2.0 for every
 * service, each service as its own unprivileged user with only its own data directory writable and only its own
 * secrets, command lines from services/flags.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Address4, Address6 } from "ip-address";
import { AGENT, DATA_MOUNT, SERVICE_UNITS, ServiceName, SERVICES } from "../layout/host-layout";
import { secretFiles } from "../hostfiles/secrets";
import { PROMETHEUS_VOLUME_SHARE_PERCENT, serviceFlags } from "../hostfiles/services/flags";
import type { HostFile } from "../layout/host-file";
import { enabledUnits, unitFiles } from "../hostfiles/units";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";
import { IMDS_ADDRESSES, execWord, renderServiceUnit } from "../hostfiles/systemd-unit";

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
        // The data directory is the unit's StateDirectory= (writable, created and chowned by systemd); nothing else.
        assert.deepEqual(values(unit, "Service", "ReadWritePaths"), [], name);
        assert.deepEqual(values(unit, "Service", "StateDirectory"), s.dataDir ? [s.dataDir.replace(/^\/var\/lib\//, "")] : [], name);
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
        // Prometheus starts through prometheus-start, which appends the retention size from its filesystem.
        const wrapper = name === "prometheus" ? [AGENT.prometheusStart, String(PROMETHEUS_VOLUME_SHARE_PERCENT), SERVICES.prometheus.dataDir] : [];
        assert.equal(value(unit, "Service", "ExecStart"), [...wrapper, SERVICES[name].bin, ...flags[name]].map(execWord).join(" "), name);
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
    // Everything but the instance metadata service.
    assert.equal(value(unit, "Service", "IPAddressDeny"), "169.254.169.254 fd00:ec2::254");
    assert.equal(value(unit, "Service", "IPAddressAllow"), undefined);
  });
});

/**
 * Whether a rendered unit may open a socket to `address`, by systemd's rules: PrivateNetwork= has no route out;
 * otherwise an address on IPAddressAllow= passes, else one on IPAddressDeny= is dropped (systemd.resource-control).
 */
function unitReaches(unit: string, address: string): boolean {
  if (value(unit, "Service", "PrivateNetwork") === "yes") return false;
  const v6 = address.includes(":");
  const addr = v6 ? new Address6(address) : new Address4(address);
  const words = (key: string) => values(unit, "Service", key).flatMap((v) => v.split(/\s+/).filter(Boolean));
  const symbolic: Record<string, string[]> = { localhost: ["127.0.0.0/8", "::1/128"], "link-local": ["169.254.0.0/16", "fe80::/64"] };
  const matches = (list: string[]) =>
    list.some((w) =>
      w === "any"
        ? true
        : (symbolic[w] ?? [w]).some((c) => c.includes(":") === v6 && addr.isInSubnet((v6 ? new Address6(c) : new Address4(c)) as never)),
    );
  return matches(words("IPAddressAllow")) || !matches(words("IPAddressDeny"));
}

describe("instance metadata (IMDS) reach: only the units that need the instance role", () => {
  /** The AWS API callers (secrets from SSM, the bundle from S3) and the S3 writers (Loki's and Tempo's blocks). */
  const NEED_ROLE = [AGENT.secretsUnit, AGENT.syncUnit, SERVICE_UNITS.loki, SERVICE_UNITS.tempo];
  const configs: [string, () => ReturnType<typeof stackConfig>, string[]?][] = [
    ["dev", () => stackConfig("dev")],
    ["prd", () => stackConfig("prd")],
    // Prometheus scraping applications by network, one of which contains the IMDS addresses.
    ["prd, scraping 169.254.0.0/16 and fd00:ec2::/32", () =>
      stackConfig("prd", {
        otlpAllowedCidrs: ["10.0.0.0/16", "169.254.0.0/16", "fd00:ec2::/32"],
        appScrapeTargets: [{ service: "shop", targets: ["10.0.4.5:9464"] }],
      })],
    // Prometheus scraping applications known by security group: outbound anywhere, but not IMDS.
    ["dev, scraping by security group", () =>
      stackConfig("dev", { otlpAllowedSecurityGroupIds: ["sg-0123456789abcdef0"], appScrapeTargets: [{ service: "shop", targets: ["10.0.4.5:9464"] }] })],
    // remoteWrite: Prometheus signs its writes to AMP and Grafana its AMP queries with the instance role.
    ["prd with remoteWrite", () => stackConfig("prd", { remoteWrite: { workspace: "create" } }), [SERVICE_UNITS.prometheus, SERVICE_UNITS.grafana]],
  ];
  for (const [name, load, extra = []] of configs) {
    const need = [...NEED_ROLE, ...extra];
    it(`${name}: every unit but ${need.join(", ")} is denied 169.254.169.254 and fd00:ec2::254`, () => {
      const units = unitFiles(load()).filter((f) => f.path.endsWith(".service"));
      assert.ok(units.length >= 10);
      for (const f of units) {
        const unit = path.basename(f.path);
        for (const address of IMDS_ADDRESSES) {
          assert.equal(unitReaches(f.content, address), need.includes(unit), `${unit} → ${address}`);
        }
      }
    });
  }

  it("the collector, the only listener reachable from the VPC, keeps the rest of the network", () => {
    const unit = unitFiles(stackConfig("dev")).find((f) => f.path.endsWith(`/${SERVICE_UNITS.otelcol}`))!.content;
    assert.equal(unitReaches(unit, "169.254.169.254"), false);
    assert.equal(unitReaches(unit, "10.0.0.7"), true, "OTLP clients in the VPC");
    assert.equal(unitReaches(unit, "127.0.0.1"), true, "Loki and Tempo on loopback");
  });

  it("the allow-list keeps every other address of a network that contains IMDS", () => {
    const unit = unitFiles(
      stackConfig("prd", { otlpAllowedCidrs: ["169.254.0.0/16"], appScrapeTargets: [{ service: "shop", targets: ["169.254.1.1:9464"] }] }),
    ).find((f) => f.path.endsWith("/prometheus.service"))!.content;
    for (const ok of ["169.254.0.0", "169.254.169.253", "169.254.169.255", "169.254.255.255", "169.254.1.1"]) assert.ok(unitReaches(unit, ok), ok);
    assert.ok(!unitReaches(unit, "169.254.169.254"));
    assert.ok(!unitReaches(unit, "169.255.0.0"));
  });

  it("the evaluator can fail: a unit without any IP policy reaches IMDS", () => {
    assert.equal(unitReaches("[Service]\nType=simple\n", "169.254.169.254"), true);
    assert.equal(unitReaches("[Service]\nIPAddressDeny=any\nIPAddressAllow=169.254.169.254\n", "169.254.169.254"), true);
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
