/**
 * monitoring-secrets (the host's SSM reader), run for real against a fake AWS CLI: it reads the exact parameter
 * version the bundle names, writes each secret to its file, and names what it could not read.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { secretsTsv } from "../hostfiles/agent";
import { hostScript } from "../hostfiles/templates";
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

  it("reads the version the bundle names (name:version), or the latest when unknown, into private files", () => {
    const out = path.join(t.dir, "out1");
    const tsv = path.join(t.dir, "secrets1.tsv");
    fs.writeFileSync(tsv, "/p/dev/grafana/admin-password\tgrafana/admin-password\t7\n/p/dev/otelcol/key\totelcol/otlp.key\t-\n");
    const r = run(script, [tsv, out], { env: { PATH: `${bin}:${process.env.PATH}` } });
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
    const tsv = path.join(t.dir, "secrets2.tsv");
    fs.writeFileSync(tsv, "/p/dev/broken\ta/broken\t3\n/p/dev/fine\ta/fine\t2\n");
    const r = run(script, [tsv, out], { env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read SSM parameter \/p\/dev\/broken:3/);
    assert.equal(fs.readFileSync(path.join(out, "a/fine"), "utf8"), "value of /p/dev/fine:2");
  });

  it("is fed by the bundle's secrets.tsv: one row per secret with its version", () => {
    const cfg = stackConfig("prd");
    const tsv = secretsTsv(cfg, { "grafana-admin-password": 4 });
    const rows = tsv.trim().split("\n").map((l) => l.split("\t"));
    assert.ok(rows.every((r) => r.length === 3));
    assert.deepEqual(rows.find((r) => r[0].endsWith("/grafana/admin-password"))?.[2], "4");
    assert.ok(rows.filter((r) => !r[0].endsWith("/grafana/admin-password")).every((r) => r[2] === "-"));
  });
});
