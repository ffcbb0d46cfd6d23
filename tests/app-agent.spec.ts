/**
 * The application-side collector agent (hostfiles/app-agent.ts, `npm run render:agent`): rendered for the
 * committed stacks (and with a client certificate), its unit and install script pass the real validators the host's
 * files pass (systemd-analyze verify and security, shellcheck), every key of its config is one otelcol-contrib
 * 0.149.0 accepts according to the upstream evidence, and it delivers what issue 12 asks: TLS to the monitoring
 * host with the stack CA, a persistent queue on disk for every signal, loopback-only listeners.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { APP_AGENT, appAgentConfig, appAgentFiles, appAgentView } from "../hostfiles/app-agent";
import { SERVICES } from "../hostfiles/layout";
import { placeholderContext } from "../hostfiles/types";
import { COMPONENTS } from "../hostfiles/versions";
import { renderAgent, validateAgent } from "../scripts/render-agent";
import { checkDocument, loadEvidence } from "./support/upstream-evidence";
import { requireTool, tempDir } from "./support/validators";
import type { Doc } from "./integration/sandbox";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
const GATEWAY = "10.20.30.40";

describe("application-side collector agent (npm run render:agent)", () => {
  const variants = [
    { name: "dev", files: () => renderAgent("dev", { gateway: GATEWAY, caPem: CA }) },
    { name: "prd", files: () => renderAgent("prd", { gateway: GATEWAY, caPem: CA }) },
    { name: "prd with a client certificate (mTLS)", files: () => renderAgent("prd", { gateway: GATEWAY, caPem: CA, clientCert: true }) },
    { name: "dev offline (placeholders)", files: () => renderAgent("dev") },
  ];

  for (const v of variants) {
    it(`${v.name}: the unit passes systemd-analyze verify and security (exposure ≤ 2.0), install.sh passes shellcheck`, function () {
      requireTool(this, "systemd-analyze");
      requireTool(this, "shellcheck");
      const checks = validateAgent(v.files());
      assert.deepEqual(checks.filter((c) => c.status !== "ok"), [], JSON.stringify(checks, null, 2));
      assert.deepEqual(checks.map((c) => c.name.split(":")[0]).sort(), ["shellcheck install.sh", "systemd-analyze security otelcol-agent.service", "systemd-analyze verify otelcol-agent.service"]);
    });

    it(`${v.name}: every config key is accepted by otelcol-contrib ${COMPONENTS.otelcol.version} (upstream evidence)`, () => {
      const config = v.files().find((f) => f.name === "config.yaml")!;
      const problems = checkDocument(loadEvidence("otelcol", COMPONENTS.otelcol.version), "config", APP_AGENT.config, config.content);
      assert.deepEqual(problems, []);
    });
  }

  it("forwards every signal to the monitoring host's OTLP/gRPC port with TLS verified against the stack CA, never insecure", () => {
    const files = renderAgent("dev", { gateway: GATEWAY, caPem: CA });
    const cfg = YAML.parse(files.find((f) => f.name === "config.yaml")!.content) as Doc;
    const exporters = Object.entries(cfg.exporters as Doc);
    assert.equal(exporters.length, 1);
    const [id, exp] = exporters[0];
    assert.match(id, /^otlp_grpc\//);
    assert.equal(exp.endpoint, `${GATEWAY}:${SERVICES.otelcol.ports.otlpGrpc}`);
    assert.equal(exp.tls.ca_file, APP_AGENT.caFile);
    assert.ok(!("insecure" in exp.tls) && !("insecure_skip_verify" in exp.tls));
    assert.equal(files.find((f) => f.name === "monitoring-ca.crt")!.content, CA);
    for (const signal of ["metrics", "traces", "logs"]) assert.deepEqual(cfg.service.pipelines[signal].exporters, [id], signal);
    // The unit may reach loopback and the monitoring host, nothing else.
    const unit = files.find((f) => f.name === APP_AGENT.unit)!.content;
    assert.match(unit, /^IPAddressDeny=any$/m);
    assert.match(unit, new RegExp(`^IPAddressAllow=localhost ${GATEWAY.replace(/\./g, "\\.")}/32$`, "m"));
  });

  it("queues on disk for every signal (a monitoring-host restart loses nothing) in a directory the sandboxed unit may write", () => {
    const files = renderAgent("dev", { gateway: GATEWAY, caPem: CA });
    const cfg = YAML.parse(files.find((f) => f.name === "config.yaml")!.content) as Doc;
    const unit = files.find((f) => f.name === APP_AGENT.unit)!.content;
    for (const [id, exp] of Object.entries(cfg.exporters as Doc)) {
      const storage = exp.sending_queue?.storage;
      assert.equal(exp.sending_queue.enabled, true, id);
      assert.ok(String(storage).startsWith("file_storage"), `${id}: queue not on disk`);
      assert.ok(cfg.service.extensions.includes(storage), `${storage} not enabled`);
      // Retries never give up: data waits for the monitoring host instead of being dropped after 5 minutes.
      assert.equal(exp.retry_on_failure.max_elapsed_time, "0s");
      const dir = cfg.extensions[storage].directory as string;
      const state = /^StateDirectory=(\S+)$/m.exec(unit)?.[1];
      assert.ok(state && dir.startsWith(`/var/lib/${state}/`), `queue ${dir} outside the unit's StateDirectory ${state} (ProtectSystem=strict makes the rest read-only)`);
    }
  });

  it("listens on loopback only: applications send to 127.0.0.1, no certificate in the app", () => {
    const cfg = appAgentConfig(appAgentView({ privateIp: GATEWAY, otlpCaCertPem: CA }));
    const protocols = (cfg.receivers as Doc).otlp.protocols as Doc;
    for (const p of Object.values(protocols)) assert.match(p.endpoint, /^127\.0\.0\.1:\d+$/);
    assert.match(((cfg.extensions as Doc).health_check as Doc).endpoint, /^127\.0\.0\.1:/);
  });

  it("mTLS slot: with a client certificate the exporter presents it, and its key reaches the unit only as a credential", () => {
    const files = renderAgent("prd", { gateway: GATEWAY, caPem: CA, clientCert: true });
    const exp = Object.values((YAML.parse(files.find((f) => f.name === "config.yaml")!.content) as Doc).exporters as Doc)[0] as Doc;
    assert.equal(exp.tls.cert_file, APP_AGENT.clientCertFile);
    assert.match(exp.tls.key_file, /^\$\{env:CREDENTIALS_DIRECTORY\}\//);
    const unit = files.find((f) => f.name === APP_AGENT.unit)!.content;
    assert.match(unit, new RegExp(`^LoadCredential=[^:]+:${APP_AGENT.clientKeyFile}$`, "m"));
    const install = files.find((f) => f.name === "install.sh")!.content;
    assert.match(install, /client\.key/);
    // Without it: no client certificate anywhere.
    const plain = renderAgent("prd", { gateway: GATEWAY, caPem: CA });
    assert.ok(!plain.some((f) => /client\.(crt|key)/.test(f.content) && f.name !== "install.sh"));
  });

  it("install.sh downloads the pinned release, verifies its SHA-256 against the published checksum file and refuses placeholders", function () {
    const install = appAgentFiles(appAgentView({ privateIp: GATEWAY, otlpCaCertPem: CA })).find((f) => f.name === "install.sh")!.content;
    const c = COMPONENTS.otelcol;
    for (const arch of ["amd64", "arm64"]) assert.ok(install.includes(c.artifact(arch)), arch);
    assert.ok(install.includes(c.baseUrl()));
    assert.ok(install.includes(c.checksum("amd64").file));
    assert.match(install, /sha256sum --check/);
    assert.match(install, /validate --config=/);
    // Rendered offline, the script stops before downloading anything (run for real, as a non-root user it stops
    // even earlier: both are refusals with a message, exit 1).
    const tmp = tempDir("agent-install-");
    try {
      for (const f of renderAgent("dev")) fs.writeFileSync(path.join(tmp.dir, f.name), f.content, { mode: parseInt(f.mode, 8) });
      const script = fs.readFileSync(path.join(tmp.dir, "install.sh"), "utf8").replace('[ "$(id -u)" -eq 0 ] ||', "true ||");
      fs.writeFileSync(path.join(tmp.dir, "install.sh"), script);
      const r = spawnSync("bash", [path.join(tmp.dir, "install.sh")], { encoding: "utf8", timeout: 20_000, env: { PATH: "/usr/bin:/bin" } });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /placeholders/);
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses a gateway that is not an IP address or a CA that is not PEM, naming what is wrong", () => {
    assert.throws(() => appAgentView({ privateIp: "monitoring.internal", otlpCaCertPem: CA }), /must be an IPv4 address/);
    assert.throws(() => appAgentView({ privateIp: GATEWAY, otlpCaCertPem: "not a cert" }), /otlpCaCertificate\) is not a PEM certificate/);
    const placeholder = placeholderContext("dev");
    assert.doesNotThrow(() => appAgentView(placeholder));
  });

  it("npm run render:agent writes the files and exits 0 (and 1 with a message for an unknown stack)", function () {
    requireTool(this, "systemd-analyze");
    requireTool(this, "shellcheck");
    const tmp = tempDir("render-agent-");
    try {
      const caFile = path.join(tmp.dir, "ca.crt");
      fs.writeFileSync(caFile, CA);
      const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
      const script = path.join(__dirname, "..", "scripts", "render-agent.ts");
      const ok = spawnSync(tsx, [script, "dev", "--gateway", GATEWAY, "--ca", caFile, "--out", path.join(tmp.dir, "out")], { encoding: "utf8", timeout: 60_000 });
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.deepEqual(fs.readdirSync(path.join(tmp.dir, "out")).sort(), ["config.yaml", "install.sh", "monitoring-ca.crt", APP_AGENT.unit].sort());
      assert.match(ok.stdout, /checks: 3 ok, 0 failed/);
      const bad = spawnSync(tsx, [script, "nosuchstack"], { encoding: "utf8", timeout: 60_000 });
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    } finally {
      tmp.cleanup();
    }
  });
});
