/**
 * monitoring-secrets (the host's SSM reader), run for real against a fake AWS CLI: it reads the exact parameter
 * version the bundle names, writes each secret to its file, and names what it could not read.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { hostScript } from "../hostfiles/templates";
import { buildBundle } from "../hostfiles/bundle";
import { placeholderBundleContext } from "../layout/host-file";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

describe("monitoring-secrets (SSM → files)", () => {
  const t = tempDir("secrets-");
  const bin = path.join(t.dir, "bin");
  const log = path.join(t.dir, "aws.log");
  const script = path.join(t.dir, "monitoring-secrets");
  before(() => {
    fs.mkdirSync(bin);
    fs.writeFileSync(script, hostScript("monitoring-secrets.sh"), { mode: 0o755 });
    // Fake AWS CLI: prints "value of <name>" for `ssm get-parameter --name <name>`; fails for names containing "broken".
    fs.writeFileSync(
      path.join(bin, "aws"),
      `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"${log}"
while [ $# -gt 0 ]; do [ "$1" = --name ] && name=$2; shift; done
case "$name" in *broken*) echo "An error occurred (ParameterNotFound)" >&2; exit 254 ;; esac
printf 'value of %s' "$name"
`,
      { mode: 0o755 },
    );
  });
  after(() => t.cleanup());

  it("passes shellcheck", function () {
    requireTool(this, "shellcheck");
    const r = run("shellcheck", [script]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  /** An applied bundle (as the apply step leaves it) with these secrets. */
  const bundleWith = (name: string, secrets: { parameter: string; file: string; version: number | null }[]) => {
    const file = path.join(t.dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ region: "eu-west-1", secrets }));
    return file;
  };

  it("reads the version the bundle names (name:version), or the latest when unknown, into private files", () => {
    const out = path.join(t.dir, "out1");
    const bundle = bundleWith("b1", [
      { parameter: "/p/dev/grafana/admin-password", file: "grafana/admin-password", version: 7 },
      { parameter: "/p/dev/otelcol/key", file: "otelcol/otlp.key", version: null },
    ]);
    const r = run(script, [bundle, out], { env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(fs.readFileSync(path.join(out, "grafana/admin-password"), "utf8"), "value of /p/dev/grafana/admin-password:7");
    assert.equal(fs.readFileSync(path.join(out, "otelcol/otlp.key"), "utf8"), "value of /p/dev/otelcol/key");
    assert.equal(fs.statSync(path.join(out, "grafana/admin-password")).mode & 0o777, 0o600);
    assert.match(r.stdout, /wrote grafana\/admin-password \(\/p\/dev\/grafana\/admin-password:7\)/);
    assert.ok(!r.stdout.includes("value of"), "values are never logged");
    assert.match(fs.readFileSync(log, "utf8"), /ssm get-parameter --with-decryption --name \/p\/dev\/grafana\/admin-password:7/);
  });

  it("fails naming the parameter it could not read, after writing the others", () => {
    const out = path.join(t.dir, "out2");
    const bundle = bundleWith("b2", [
      { parameter: "/p/dev/broken", file: "a/broken", version: 3 },
      { parameter: "/p/dev/fine", file: "a/fine", version: 2 },
    ]);
    const r = run(script, [bundle, out], { env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read SSM parameter \/p\/dev\/broken:3/);
    assert.equal(fs.readFileSync(path.join(out, "a/fine"), "utf8"), "value of /p/dev/fine:2");
  });

  it("reads the rendered bundle's secrets: every parameter once, at the version the bundle pins, for the stack's region", () => {
    const cfg = stackConfig("prd");
    const out = path.join(t.dir, "out3");
    const rendered = buildBundle(cfg, { ...placeholderBundleContext("prd"), secretVersions: { "grafana-admin-password": 4 } });
    const file = path.join(t.dir, "rendered.json");
    fs.writeFileSync(file, JSON.stringify(rendered));
    fs.writeFileSync(path.join(bin, "aws"), `#!/usr/bin/env bash\nprintf '%s %s\\n' "$AWS_REGION" "$*" >>"${log}.3"\nprintf x\n`, { mode: 0o755 });
    const r = run(script, [file, out], { env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const calls = fs.readFileSync(`${log}.3`, "utf8").trim().split("\n");
    assert.equal(calls.length, rendered.secrets.length);
    for (const s of rendered.secrets) {
      const selector = s.id === "grafana-admin-password" ? `${s.parameter}:4` : s.parameter;
      assert.ok(calls.includes(`${cfg.region} ssm get-parameter --with-decryption --name ${selector} --query Parameter.Value --output text`), selector);
      assert.ok(fs.existsSync(path.join(out, s.file)), s.file);
    }
  });
});
