/**
 * The application-side collector agent (issue 12): an OpenTelemetry Collector (otelcol-contrib, the version the
 * monitoring host runs) on an application instance, as a hardened systemd service. Applications on that instance
 * send OTLP to it on loopback (no TLS, no certificates in the app); it forwards everything to the monitoring host's
 * collector over OTLP/gRPC with TLS, verifying the server against the stack's OTLP CA.
 *
 * A monitoring-host restart or outage loses nothing: every exporter has a persistent sending queue in the
 * `file_storage` extension (on disk, survives an agent restart too) and retries without a time limit, so data
 * waits until the gateway is back, up to the queue's size.
 *
 * Sender authentication (mutual TLS): the monitoring host's receivers require a client certificate signed by the
 * CA of an application listed in `otlpClients` (components/otlp-tls.ts). The agent sends as one of them: the install
 * script reads that client's certificate, private key and the server CA from its SSM parameters
 * (`otlpClientParameters`) with the instance role, and the key reaches the unit only as a systemd credential.
 *
 * Pure functions: `npm run render:agent -- <stack>` (scripts/render-agent.ts) writes these files; the files a host
 * gets are validated like the monitoring host's (tests/app-agent.spec.ts).
 */
import { renderTemplate, yamlFile } from "./templates";
import type { Architecture, StackConfig } from "../config/stack-config";
import { otlpClientParameters } from "../config/otlp-client-parameters";
import { SERVICES } from "../layout/host-layout";
import { durableDelivery, MEMORY_LIMITER, QUEUE_STORAGE, queueStorage } from "./services/otelcol";
import { COMPONENTS, OperatorDigests, RELEASE_ARCH, ReleaseArch, releaseDigestKey } from "../config/release-manifest";
import { resolveComponents } from "./versions";
import { shQuote } from "./agent";
import { ServiceUnitSpec, renderServiceUnit } from "./systemd-unit";

/** Paths, user and ports on the application instance. */
export const APP_AGENT = {
  unit: "otelcol-agent.service",
  user: "otelcol-agent",
  bin: "/usr/local/bin/otelcol-contrib",
  configDir: "/etc/otelcol-agent",
  config: "/etc/otelcol-agent/config.yaml",
  caFile: "/etc/otelcol-agent/tls/monitoring-ca.crt",
  clientCertFile: "/etc/otelcol-agent/tls/client.crt",
  /** Named like its systemd credential (CLIENT_KEY_CREDENTIAL): `validate` finds it with CREDENTIALS_DIRECTORY=tls/. */
  clientKeyFile: "/etc/otelcol-agent/tls/otlp-client.key",
  /** systemd StateDirectory: /var/lib/otelcol-agent, created and owned for the unit's user by systemd. */
  stateDirectory: "otelcol-agent",
  queueDir: "/var/lib/otelcol-agent/queue",
  /**
   * Bound of the persistent queue in bytes (exporterhelper `sizer: bytes`, as on the monitoring host): a fixed 1 GiB,
   * since the application instance's disk is not the stack's to know. Beyond it new data is refused (the SDKs retry,
   * then drop).
   */
  queueBytes: 2 ** 30,
  /** Loopback listeners the applications send to (the OTel SDKs' default endpoints). */
  ports: { otlpGrpc: 4317, otlpHttp: 4318, health: 13133, metrics: 8888 },
} as const;

/** The systemd credential name of the client key (read from $CREDENTIALS_DIRECTORY). */
const CLIENT_KEY_CREDENTIAL = "otlp-client.key";

export interface AppAgentView {
  /** The monitoring host's OTLP/gRPC endpoint, `<private ip>:4317` (its server certificate names that IP). */
  gatewayIp: string;
  gatewayPort: number;
  /** The `otlpClients` entry the agent authenticates as, and where its credentials are in SSM. */
  client: string;
  parameters: { certificate: string; privateKey: string; serverCa: string };
  region: string;
  /** Rendered offline without the gateway address: install.sh refuses to run. */
  placeholder: boolean;
  /** The stack's `releaseDigests`: they fill the collector archives config/release-manifest.ts cannot pin. */
  releaseDigests: OperatorDigests;
}

/** The gateway address of an offline render (`placeholder`): an address, so the files parse; install.sh refuses it. */
const PLACEHOLDER_GATEWAY_IP = "10.0.0.10";

/**
 * The agent of one application (`client`, an entry of `otlpClients`; default: the only one) forwarding to the
 * monitoring host at `gatewayIp` (the stack output `privateIp`; a placeholder offline).
 */
export function appAgentView(cfg: Pick<StackConfig, "project" | "stack" | "region" | "otlp" | "releaseDigests">, o: { gatewayIp?: string; client?: string }): AppAgentView {
  const clients = cfg.otlp.clients;
  const client = o.client ?? (clients.length === 1 ? clients[0] : undefined);
  if (client === undefined) {
    throw new Error(`--client: the stack has several OTLP senders in ${cfg.project}:otlpClients (${clients.join(", ")}); name the one this agent sends as`);
  }
  if (!clients.includes(client)) {
    throw new Error(`--client ${client}: not in ${cfg.project}:otlpClients (${clients.join(", ") || "empty"}); only those applications get a client certificate the monitoring host accepts`);
  }
  const gatewayIp = o.gatewayIp ?? PLACEHOLDER_GATEWAY_IP;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(gatewayIp) || gatewayIp.split(".").some((n) => Number(n) > 255)) {
    throw new Error(`--gateway ${gatewayIp}: must be the monitoring host's private IPv4 address (stack output privateIp; its certificate names that IP)`);
  }
  return {
    gatewayIp,
    gatewayPort: SERVICES.otelcol.ports.otlpGrpc,
    client,
    parameters: otlpClientParameters(cfg, client),
    region: cfg.region,
    placeholder: o.gatewayIp === undefined,
    releaseDigests: cfg.releaseDigests,
  };
}

export function appAgentConfig(v: AppAgentView): Record<string, unknown> {
  const p = APP_AGENT.ports;
  const pipeline = () => ({ receivers: ["otlp"], processors: ["memory_limiter", "batch"], exporters: ["otlp_grpc/monitoring"] });
  return {
    extensions: {
      health_check: { endpoint: `127.0.0.1:${p.health}` },
      [QUEUE_STORAGE]: queueStorage(APP_AGENT.queueDir),
    },
    receivers: {
      // Loopback only: the applications of this instance, no TLS needed (nothing leaves the machine here).
      otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${p.otlpGrpc}` }, http: { endpoint: `127.0.0.1:${p.otlpHttp}` } } },
    },
    processors: {
      memory_limiter: MEMORY_LIMITER,
      batch: { send_batch_size: 8192, timeout: "5s" },
    },
    exporters: {
      "otlp_grpc/monitoring": {
        endpoint: `${v.gatewayIp}:${v.gatewayPort}`,
        tls: {
          ca_file: APP_AGENT.caFile,
          // The client certificate the receivers' client_ca_file checks; the key from the unit's credentials.
          cert_file: APP_AGENT.clientCertFile,
          key_file: `\${env:CREDENTIALS_DIRECTORY}/${CLIENT_KEY_CREDENTIAL}`,
          min_version: "1.2",
        },
        ...durableDelivery(APP_AGENT.queueBytes),
      },
    },
    service: {
      extensions: ["health_check", QUEUE_STORAGE],
      telemetry: { metrics: { level: "normal", readers: [{ pull: { exporter: { prometheus: { host: "127.0.0.1", port: p.metrics } } } }] } },
      pipelines: { metrics: pipeline(), traces: pipeline(), logs: pipeline() },
    },
  };
}

export function appAgentUnit(v: AppAgentView): ServiceUnitSpec {
  return {
    name: APP_AGENT.unit,
    description: "OpenTelemetry Collector agent: forwards this instance's OTLP to the monitoring host",
    documentation: "https://opentelemetry.io/docs/collector/",
    type: "simple",
    user: APP_AGENT.user,
    execStart: [[APP_AGENT.bin, `--config=${APP_AGENT.config}`]],
    execReload: "/bin/kill -HUP $MAINPID",
    after: ["network-online.target"],
    wants: ["network-online.target"],
    // Loopback (the applications) and the monitoring host, nothing else.
    network: { allow: [`${v.gatewayIp}/32`] },
    credentials: [{ name: CLIENT_KEY_CREDENTIAL, source: APP_AGENT.clientKeyFile }],
    restart: "on-failure",
    wantedBy: "multi-user.target",
    limitNofile: 65536,
    extra: [
      ["StateDirectory", APP_AGENT.stateDirectory],
      ["StateDirectoryMode", "0700"],
      // memory_limiter reads the machine's total memory from /proc/meminfo (see the host's collector unit).
      ["ProcSubset", "all"],
    ],
  };
}

/**
 * The release the install script downloads, and per architecture the SHA-256 the monitoring host would check
 * (config/release-manifest.ts, else the stack's `releaseDigests`); an architecture with neither is refused with its reason.
 */
export function appAgentRelease(
  operatorDigests: OperatorDigests = {},
): { version: string; baseUrl: string; archives: Record<ReleaseArch, { file: string; sha256: string; refusal: string }> } {
  const c = COMPONENTS.otelcol;
  const archive = (architecture: Architecture) => {
    const r = resolveComponents(architecture, operatorDigests).find((x) => x.name === "otelcol")!;
    const d = c.digests[RELEASE_ARCH[architecture]];
    const refusal = d.sha256 === null ? `${d.reason}; set releaseDigests["${releaseDigestKey("otelcol", architecture)}"] in the stack and render again` : "";
    // Shell-quoted here: the template places them as words of a case branch.
    return { file: shQuote(r.artifact), sha256: shQuote(r.sha256 ?? ""), refusal: shQuote(r.sha256 === null ? refusal : "") };
  };
  return { version: c.version, baseUrl: c.baseUrl(), archives: { amd64: archive("x86_64"), arm64: archive("arm64") } };
}

export interface AgentFile {
  /** File name in the rendered directory (the install script finds its files next to itself). */
  name: string;
  /** Where the install script puts it on the application instance. */
  installPath?: string;
  content: string;
  mode: string;
}

/** Everything `npm run render:agent` writes: config, unit and the install script (which fetches the credentials). */
export function appAgentFiles(v: AppAgentView): AgentFile[] {
  const rel = appAgentRelease(v.releaseDigests);
  const unit = appAgentUnit(v);
  const config = yamlFile(
    [
      "Rendered by hostfiles/app-agent.ts (`npm run render:agent -- <stack>`); install with install.sh, do not edit here.",
      "OTLP in on 127.0.0.1:4317 (gRPC) and :4318 (HTTP) from this instance's applications; everything out to the",
      "monitoring host over OTLP/gRPC with TLS, queued on disk (file_storage) while the monitoring host is unreachable.",
    ],
    appAgentConfig(v),
  );
  const install = renderTemplate("agent/install.sh.hbs", {
    version: rel.version,
    baseUrl: rel.baseUrl,
    amd64: rel.archives.amd64,
    arm64: rel.archives.arm64,
    user: APP_AGENT.user,
    bin: APP_AGENT.bin,
    configDir: APP_AGENT.configDir,
    config: APP_AGENT.config,
    caFile: APP_AGENT.caFile,
    clientCertFile: APP_AGENT.clientCertFile,
    clientKeyFile: APP_AGENT.clientKeyFile,
    credentialsSource: APP_AGENT.clientKeyFile.slice(0, APP_AGENT.clientKeyFile.lastIndexOf("/")),
    client: v.client,
    region: v.region,
    certificateParameter: v.parameters.certificate,
    privateKeyParameter: v.parameters.privateKey,
    serverCaParameter: v.parameters.serverCa,
    placeholder: v.placeholder,
    unit: unit.name,
    healthPort: APP_AGENT.ports.health,
  });
  return [
    { name: "config.yaml", installPath: APP_AGENT.config, content: config, mode: "0640" },
    {
      name: unit.name,
      installPath: `/etc/systemd/system/${unit.name}`,
      content: renderServiceUnit(unit, "Rendered by hostfiles/app-agent.ts (npm run render:agent); installed by install.sh, re-run it after a change."),
      mode: "0644",
    },
    { name: "install.sh", content: install, mode: "0755" },
  ];
}
