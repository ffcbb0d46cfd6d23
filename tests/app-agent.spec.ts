/**
 * The application-side collector agent (hostfiles/app-agent.ts, `npm run render:agent`): rendered for the
 * committed stacks, its unit and install script pass the real validators the host's files pass (systemd-analyze
 * verify and security, shellcheck), every key of its config is one otelcol-contrib 0.149.0 accepts according to the
 * upstream evidence, and it delivers what issue 12 asks: TLS to the monitoring host with the stack CA and the
 * application's client certificate (the receivers require one), a persistent queue on disk for every signal,
 * loopback-only listeners.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { APP_AGENT, appAgentConfig, appAgentFiles, appAgentView } from "../hostfiles/app-agent";
import { SERVICES } from "../layout/host-layout";
import { otlpClientParameters } from "../config/otlp-client-parameters";
import { COMPONENTS, releaseDigestKey } from "../config/release-manifest";
import { renderAgent, validateAgent } from "../scripts/render-agent";
import { checkDocument, loadEvidence } from "./support/upstream-evidence";
import { requireTool, tempDir } from "./support/validators";
import { stackConfig } from "./support/stacks";
import type { Doc } from "./integration/sandbox";

const GATEWAY = "10.20.30.40";

describe("application-side collector agent (npm run render:agent)", () => {
  const variants = [
    { name: "dev", files: () => renderAgent("dev", { gateway: GATEWAY }) },
    { name: "prd", files: () => renderAgent("prd", { gateway: GATEWAY, client: "appointments-api" }) },
    { name: "dev offline (placeholder address)", files: () => renderAgent("dev") },
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
    const files = renderAgent("dev", { gateway: GATEWAY });
    const cfg = YAML.parse(files.find((f) => f.name === "config.yaml")!.content) as Doc;
    const exporters = Object.entries(cfg.exporters as Doc);
    assert.equal(exporters.length, 1);
    const [id, exp] = exporters[0];
    assert.match(id, /^otlp_grpc\//);
    assert.equal(exp.endpoint, `${GATEWAY}:${SERVICES.otelcol.ports.otlpGrpc}`);
    assert.equal(exp.tls.ca_file, APP_AGENT.caFile);
    assert.ok(!("insecure" in exp.tls) && !("insecure_skip_verify" in exp.tls));
    for (const signal of ["metrics", "traces", "logs"]) assert.deepEqual(cfg.service.pipelines[signal].exporters, [id], signal);
    // The unit may reach loopback and the monitoring host, nothing else.
    const unit = files.find((f) => f.name === APP_AGENT.unit)!.content;
    assert.match(unit, /^IPAddressDeny=any$/m);
    assert.match(unit, new RegExp(`^IPAddressAllow=localhost ${GATEWAY.replace(/\./g, "\\.")}/32$`, "m"));
  });

  it("queues on disk for every signal (a monitoring-host restart loses nothing) in a directory the sandboxed unit may write", () => {
    const files = renderAgent("dev", { gateway: GATEWAY });
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
    const cfg = appAgentConfig(appAgentView(stackConfig("dev"), { gatewayIp: GATEWAY }));
    const protocols = (cfg.receivers as Doc).otlp.protocols as Doc;
    for (const p of Object.values(protocols)) assert.match(p.endpoint, /^127\.0\.0\.1:\d+$/);
    assert.match(((cfg.extensions as Doc).health_check as Doc).endpoint, /^127\.0\.0\.1:/);
  });

  it("mTLS: presents the application's client certificate; the key reaches the unit only as a credential; install.sh reads all three from the client's SSM parameters", () => {
    const cfg = stackConfig("prd");
    const client = cfg.otlp.clients[0];
    const files = renderAgent("prd", { gateway: GATEWAY, client });
    const exp = Object.values((YAML.parse(files.find((f) => f.name === "config.yaml")!.content) as Doc).exporters as Doc)[0] as Doc;
    assert.equal(exp.tls.cert_file, APP_AGENT.clientCertFile);
    assert.equal(exp.tls.key_file, `\${env:CREDENTIALS_DIRECTORY}/${path.basename(APP_AGENT.clientKeyFile)}`);
    const unit = files.find((f) => f.name === APP_AGENT.unit)!.content;
    assert.match(unit, new RegExp(`^LoadCredential=${path.basename(APP_AGENT.clientKeyFile)}:${APP_AGENT.clientKeyFile}$`, "m"));
    const install = files.find((f) => f.name === "install.sh")!.content;
    const params = otlpClientParameters(cfg, client);
    assert.ok(install.includes(`parameter '${params.certificate}' >`), install);
    assert.ok(install.includes(`parameter '${params.privateKey}' --with-decryption >`));
    assert.ok(install.includes(`parameter '${params.serverCa}' >`));
    assert.ok(install.includes(`-m 0600 "$work/client.key" '${APP_AGENT.clientKeyFile}'`));
    // No credential in the rendered files themselves.
    for (const f of files) assert.doesNotMatch(f.content, /-----BEGIN /, f.name);
  });

  it("install.sh downloads the pinned release, verifies its SHA-256 against the digest pinned in versions.ts (or refuses with the reason) and refuses placeholders", function () {
    const install = appAgentFiles(appAgentView(stackConfig("dev"), { gatewayIp: GATEWAY })).find((f) => f.name === "install.sh")!.content;
    const c = COMPONENTS.otelcol;
    const architectures = { amd64: "x86_64", arm64: "arm64" } as const;
    for (const arch of ["amd64", "arm64"] as const) {
      assert.ok(install.includes(c.artifact(arch)), arch);
      const d = c.digests[arch];
      const key = releaseDigestKey("otelcol", architectures[arch]);
      assert.ok(install.includes(d.sha256 !== null ? `sha256='${d.sha256}'` : `refusal='${d.reason}; set releaseDigests["${key}"] in the stack and render again'`), arch);
      // The stack's releaseDigests fill a digest the manifest lacks (the same one the monitoring host would check).
      if (d.sha256 === null) {
        const digest = "5".repeat(64);
        const withDigest = appAgentFiles(appAgentView(stackConfig("dev", { releaseDigests: { [key]: digest } }), { gatewayIp: GATEWAY })).find((f) => f.name === "install.sh")!.content;
        assert.ok(withDigest.includes(`artifact='${c.artifact(arch)}' sha256='${digest}' refusal=''`), withDigest);
      }
    }
    assert.ok(install.includes(c.baseUrl()));
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
      assert.match(r.stderr, /without the monitoring host's address/);
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses a gateway that is not an IPv4 address and a client not in otlpClients, naming the option and the key", () => {
    const cfg = stackConfig("dev");
    assert.throws(() => appAgentView(cfg, { gatewayIp: "monitoring.internal" }), /^Error: --gateway monitoring\.internal: must be the monitoring host's private IPv4 address/);
    assert.throws(() => appAgentView(cfg, { gatewayIp: "10.0.0.300" }), /--gateway/);
    assert.throws(() => appAgentView(cfg, { gatewayIp: GATEWAY, client: "billing" }), new RegExp(`--client billing: not in ${cfg.project}:otlpClients \\(${cfg.otlp.clients.join(", ")}\\)`));
    const two = stackConfig("dev", { otlpClients: ["a-api", "b-api"] });
    assert.throws(() => appAgentView(two, { gatewayIp: GATEWAY }), /several OTLP senders .* \(a-api, b-api\)/);
    assert.equal(appAgentView(two, { gatewayIp: GATEWAY, client: "b-api" }).client, "b-api");
  });

  it("npm run render:agent writes the files and exits 0 (and 1 with a message for an unknown stack)", function () {
    requireTool(this, "systemd-analyze");
    requireTool(this, "shellcheck");
    const tmp = tempDir("render-agent-");
    try {
      const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
      const script = path.join(__dirname, "..", "scripts", "render-agent.ts");
      const ok = spawnSync(tsx, [script, "dev", "--gateway", GATEWAY, "--out", path.join(tmp.dir, "out")], { encoding: "utf8", timeout: 60_000 });
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.deepEqual(fs.readdirSync(path.join(tmp.dir, "out")).sort(), ["config.yaml", "install.sh", APP_AGENT.unit].sort());
      assert.match(ok.stdout, /checks: 3 ok, 0 failed/);
      const bad = spawnSync(tsx, [script, "nosuchstack"], { encoding: "utf8", timeout: 60_000 });
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    } finally {
      tmp.cleanup();
    }
  });
});
