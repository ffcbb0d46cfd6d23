/**
 * renderHostFiles / the bundle / pinned versions, and `npm run render` end to end: files under out/<stack>/
 * mirroring host paths, a clear error (no stack trace) for a bad config, and a failing exit for a failed check.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { buildBundle, renderBundle } from "../hostfiles/bundle";
import { assertNoSecrets } from "../hostfiles/leak-check";
import { CONFIG_ROOT, SERVICES, ServiceName } from "../layout/host-layout";
import { renderHostFiles } from "../hostfiles/host-files";
import { serviceFiles } from "../hostfiles/services";
import { PLACEHOLDER_PAIR_IPS, placeholderBundleContext } from "../layout/host-file";
import { enabledUnits, unitFiles } from "../hostfiles/units";
import { COMPONENTS, RELEASE_ARCH, releaseDigestKey, unpinnedReleases } from "../config/release-manifest";
import { resolveComponents } from "../hostfiles/versions";
import { renderStack, unexpectedVerifyOutput, validate } from "../scripts/render";
import { secretValues, stackConfig } from "./support/stacks";
import { hasTool, run, tempDir } from "./support/validators";

const PROJECT = path.resolve(__dirname, "..");

describe("renderHostFiles and the bundle", () => {
  for (const stack of ["dev", "prd"]) {
    it(`(${stack}) holds the service configs, units and agent files, each path once, and nothing secret`, () => {
      const cfg = stackConfig(stack);
      const ctx = placeholderBundleContext(stack);
      const files = renderHostFiles(cfg, ctx);
      const paths = files.map((f) => f.path);
      assert.equal(new Set(paths).size, paths.length);
      for (const f of [...serviceFiles(cfg, ctx), ...unitFiles(cfg)]) assert.ok(paths.includes(f.path), f.path);
      // The host reads one structured document: no text manifest travels among the files any more.
      assert.deepEqual(paths.filter((p) => p.startsWith(`${CONFIG_ROOT}/`) && /\.(tsv|env|versions)$/.test(p)), []);
      for (const f of files) {
        assert.match(f.mode, /^0[0-7]{3}$/, f.path);
        assert.match(f.owner, /^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/, f.path);
      }
      const bundle = JSON.parse(renderBundle(cfg, ctx)) as ReturnType<typeof buildBundle>;
      assert.equal(bundle.schemaVersion, 2);
      assert.deepEqual(bundle.host.enabledUnits, enabledUnits(cfg));
      assert.equal(bundle.region, cfg.region);
      assert.deepEqual(
        bundle.files.map((f) => f.path),
        [...paths].sort(),
      );
      for (const s of secretValues(stack)) assert.ok(!JSON.stringify(bundle).includes(s));
    });
  }

  it("lists secrets by SSM parameter name only", () => {
    const cfg = stackConfig("prd");
    const { secrets } = buildBundle(cfg, placeholderBundleContext("prd"));
    assert.deepEqual(
      secrets.map((s) => s.parameter),
      bundleSecrets(cfg).map((s) => s.parameter),
    );
    for (const { parameter, file, version } of secrets) {
      assert.match(parameter, /^\/monitoring-hosts\/prd\//);
      assert.match(file, /^(grafana|otelcol|alertmanager)\/[a-z0-9.-]+$/);
      assert.equal(version, null, "offline, no parameter version is known");
    }
  });

  it("refuses to emit text that contains a secret value, without printing it", () => {
    const cfg = stackConfig("dev");
    const secret = secretValues("dev")[0];
    assert.throws(
      () => assertNoSecrets(cfg, `grafana password: ${secret}`, "config bundle"),
      (e: Error) => /config bundle would contain a secret value/.test(e.message) && !e.message.includes(secret),
    );
  });
});

function bundleSecrets(cfg: ReturnType<typeof stackConfig>) {
  return buildBundle(cfg, placeholderBundleContext(cfg.stack)).secrets;
}

describe("pinned versions", () => {
  it("pins one version per service, with per-architecture archives", () => {
    for (const [arch, goarch] of [["x86_64", "amd64"], ["arm64", "arm64"]] as const) {
      const resolved = resolveComponents(arch);
      assert.deepEqual(resolved.map((c) => c.name).sort(), (Object.keys(SERVICES) as ServiceName[]).sort());
      for (const c of resolved) {
        assert.match(c.version, /^\d+\.\d+\.\d+$/, c.name);
        assert.ok(c.url.startsWith("https://"), c.url);
        assert.ok(c.url.includes(c.version) && c.url.includes(goarch), `${c.name}: ${c.url}`);
        assert.ok(c.url.endsWith(`/${c.artifact}`));
        const other = goarch === "amd64" ? "arm64" : "amd64";
        assert.ok(!c.url.includes(other), `${c.name} ${arch} must not download ${other}`);
      }
    }
    const prom = resolveComponents("arm64").find((c) => c.name === "prometheus")!;
    assert.equal(prom.url, `https://github.com/prometheus/prometheus/releases/download/v${COMPONENTS.prometheus.version}/prometheus-${COMPONENTS.prometheus.version}.linux-arm64.tar.gz`);
    assert.deepEqual(prom.install, {
      binaries: { [`prometheus-${COMPONENTS.prometheus.version}.linux-arm64/prometheus`]: SERVICES.prometheus.bin, [`prometheus-${COMPONENTS.prometheus.version}.linux-arm64/promtool`]: "/usr/local/bin/promtool" },
    });
  });

  it("pins the SHA-256 of every component x architecture, each with its sources, or says why it cannot", () => {
    const seen = new Map<string, string>();
    for (const name of Object.keys(SERVICES) as ServiceName[]) {
      for (const arch of Object.values(RELEASE_ARCH)) {
        const d = COMPONENTS[name].digests[arch];
        assert.ok(d, `${name} ${arch}: no entry`);
        if (d.sha256 === null) {
          assert.ok("reason" in d && d.reason.length > 20, `${name} ${arch}: null digest without a reason`);
          continue;
        }
        assert.match(d.sha256, /^[0-9a-f]{64}$/, `${name} ${arch}`);
        assert.ok("sources" in d && d.sources.length >= 1 && d.sources.every((x) => x.length > 20), `${name} ${arch}: no source`);
        assert.ok(!seen.has(d.sha256), `${name} ${arch} has the digest of ${seen.get(d.sha256)}`);
        seen.set(d.sha256, `${name} ${arch}`);
      }
    }
    // What is not pinned is exactly what a stack must supply in releaseDigests (the loader refuses it otherwise;
    // tests/config.spec.ts), under the key the loader and the docs name.
    for (const arch of ["x86_64", "arm64"] as const) {
      const missing = unpinnedReleases(arch);
      assert.deepEqual(
        missing.map((m) => m.name).sort(),
        resolveComponents(arch).filter((c) => c.sha256 === null).map((c) => c.name).sort(),
      );
      for (const m of missing) {
        assert.equal(m.key, `${m.name}@${COMPONENTS[m.name].version}/${arch}`);
        assert.ok(m.url.endsWith(`/${m.artifact}`) && m.url.includes(COMPONENTS[m.name].version), m.url);
      }
    }
  });

  it("fills only the gaps of the manifest with operator digests; the manifest's digest wins", () => {
    for (const arch of ["x86_64", "arm64"] as const) {
      // An operator digest for every component x architecture, all different from the manifest's.
      const operator = Object.fromEntries(
        (Object.keys(COMPONENTS) as ServiceName[]).map((n, i) => [releaseDigestKey(n, arch), (i + 10).toString(16).padStart(64, "c")]),
      );
      for (const c of resolveComponents(arch, operator)) {
        const manifest = COMPONENTS[c.name].digests[RELEASE_ARCH[arch]].sha256;
        assert.equal(c.sha256, manifest ?? operator[releaseDigestKey(c.name, arch)], `${c.name} ${arch}`);
        assert.equal(c.pinnedBy, manifest !== null ? "config/release-manifest.ts" : "releaseDigests");
      }
      // Another architecture's entries change nothing.
      const other = arch === "x86_64" ? "arm64" : "x86_64";
      const foreign = Object.fromEntries((Object.keys(COMPONENTS) as ServiceName[]).map((n) => [releaseDigestKey(n, other), "d".repeat(64)]));
      assert.deepEqual(resolveComponents(arch, foreign), resolveComponents(arch));
    }
  });
});

describe("npm run render", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir("monhost-render-")));
  afterEach(() => tmp.cleanup());

  const render = (...args: string[]) => run("npx", ["tsx", path.join(PROJECT, "scripts", "render.ts"), ...args], { cwd: PROJECT, timeoutMs: 180_000 });

  it("writes every file under out/<stack>/ at its host path, plus user-data.yaml and bundle.json, and validates them", () => {
    const out = path.join(tmp.dir, "out");
    const res = render("prd", "--out", out);
    assert.equal(res.status, 0, res.stdout + res.stderr);
    // Compared with the bundle.json of the same run (this process may hold older modules than the child).
    const bundle = JSON.parse(fs.readFileSync(path.join(out, "bundle.json"), "utf8")) as ReturnType<typeof buildBundle>;
    assert.deepEqual(
      bundle.files.map((f) => f.path),
      renderStack("prd")
        .files.map((f) => f.path)
        .sort(),
    );
    for (const f of bundle.files) {
      assert.equal(fs.readFileSync(path.join(out, f.path), "utf8"), f.content, f.path);
      assert.equal((fs.statSync(path.join(out, f.path)).mode & 0o777).toString(8).padStart(4, "0"), f.mode, f.path);
    }
    assert.match(fs.readFileSync(path.join(out, "user-data.yaml"), "utf8"), /^#cloud-config\n/);
    // The committed stack files hold no secrets: the render warns and goes on.
    assert.match(res.stderr, /warning: \d+ secret\(s\) not set for stack prd/);
    assert.match(res.stderr, /grafanaAdminPassword/);
    assert.match(res.stdout, /checks: \d+ ok, 0 failed/);
    if (hasTool("systemd-analyze")) assert.match(res.stdout, /ok {6}systemd-analyze security prometheus\.service: \d\.\d/);
    if (hasTool("cloud-init")) assert.match(res.stdout, /ok {6}cloud-init schema user-data\.yaml/);
  });

  it("an HA pair (hosts: 2): each host's own side, the second host in out/<stack>-host-1/, both validated", () => {
    fs.copyFileSync(path.join(PROJECT, "Pulumi.yaml"), path.join(tmp.dir, "Pulumi.yaml"));
    const pair = fs.readFileSync(path.join(PROJECT, "Pulumi.prd.yaml"), "utf8").replace(
      /^(\s*)monitoring-hosts:subnetId: .*$/m,
      "$1monitoring-hosts:subnetId: subnet-00000000000000000\n$1monitoring-hosts:hosts: 2\n$1monitoring-hosts:secondSubnetId: subnet-00000000000000001",
    );
    fs.writeFileSync(path.join(tmp.dir, "Pulumi.pair.yaml"), pair);
    const out = path.join(tmp.dir, "out", "pair");
    const res = render("pair", "--project", tmp.dir, "--out", out);
    assert.equal(res.status, 0, res.stdout + res.stderr);
    const [self, peer] = PLACEHOLDER_PAIR_IPS;
    for (const [dir, me, other] of [[out, self, peer], [`${out}-host-1`, peer, self]]) {
      const loki = YAML.parse(fs.readFileSync(path.join(dir, SERVICES.loki.config), "utf8"));
      assert.deepEqual(loki.memberlist.join_members, [`${other}:${SERVICES.loki.ports.memberlist}`], dir);
      assert.equal(loki.common.instance_addr, me);
      const prom = fs.readFileSync(path.join(dir, SERVICES.prometheus.config), "utf8");
      assert.ok(prom.includes(`${other}:${SERVICES.alertmanager.ports.http}`), `${dir}: alerts also go to the other Alertmanager`);
    }
    assert.match(fs.readFileSync(path.join(`${out}-host-1`, "user-data.yaml"), "utf8"), /hosts\/pair\/1\/bundle\.json/);
    // Both hosts' files went through the validators (promtool and amtool among them, where installed).
    assert.equal((res.stdout.match(/^rendered \d+ host files/gm) ?? []).length, 2);
    assert.match(res.stdout, /checks: \d+ ok, 0 failed/);
  });

  it("prints a configuration error with its keys, no stack trace, and exits non-zero", () => {
    fs.copyFileSync(path.join(PROJECT, "Pulumi.yaml"), path.join(tmp.dir, "Pulumi.yaml"));
    const stackFile = fs.readFileSync(path.join(PROJECT, "Pulumi.dev.yaml"), "utf8").replace(/instanceType: \S+/, "instanceType: t3.nano");
    fs.writeFileSync(path.join(tmp.dir, "Pulumi.broken.yaml"), stackFile);
    const res = render("broken", "--project", tmp.dir, "--out", path.join(tmp.dir, "out"));
    assert.equal(res.status, 1);
    assert.match(res.stderr, /Stack "broken" has 1 configuration problem/);
    assert.match(res.stderr, /monitoring-hosts:instanceType: "t3\.nano" has too little memory/);
    assert.doesNotMatch(res.stderr, /^\s+at /m);
    assert.ok(!fs.existsSync(path.join(tmp.dir, "out")));
  });

  it("names the stacks when the stack does not exist", () => {
    const res = render("nosuchstack", "--out", path.join(tmp.dir, "out"));
    assert.equal(res.status, 1);
    assert.match(res.stderr, /No stack file .*Pulumi\.nosuchstack\.yaml: the stacks of this project are dev, prd/);
    assert.doesNotMatch(res.stderr, /^\s+at /m);
  });

  it("reports a failed check (a unit systemd does not accept)", function () {
    if (!hasTool("systemd-analyze")) this.skip();
    const r = renderStack("dev");
    const broken = {
      ...r,
      files: r.files.map((f) => (f.path.endsWith("/prometheus.service") ? { ...f, content: f.content.replace("[Service]", "[Service]\nProtectEverything=yes") } : f)),
    };
    const out = path.join(tmp.dir, "out");
    const checks = validate(broken, out);
    const failed = checks.filter((c) => c.status === "failed");
    assert.ok(failed.some((c) => c.name === "systemd-analyze verify prometheus.service" && /ProtectEverything/.test(c.detail ?? "")), JSON.stringify(failed));
  });

  it("accepts only the expected 'not executable' lines from verify, for host binaries", () => {
    assert.deepEqual(unexpectedVerifyOutput(`prometheus.service: Command ${SERVICES.prometheus.bin} is not executable: No such file or directory\n`), []);
    assert.equal(unexpectedVerifyOutput("x.service: Command /usr/bin/whatever is not executable: No such file or directory").length, 1);
    assert.equal(unexpectedVerifyOutput("/tmp/x.service:12: Unknown key name 'Foo' in section 'Service', ignoring.").length, 1);
  });
});
