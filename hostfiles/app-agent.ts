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
 * Sender authentication (mutual TLS): when `clientCertificate` is given, the exporter presents that certificate
 * (`tls.cert_file`/`tls.key_file`, the same configtls keys the server side's client_ca_file checks); the key is
 * handed to the unit as a systemd credential, readable by the agent only. Nothing else changes.
 *
 * Pure functions: `npm run render:agent -- <stack>` (scripts/render-agent.ts) writes these files; the files a host
 * gets are validated like the monitoring host's (tests/app-agent.spec.ts).
 */
import { renderTemplate, yamlBlock } from "./templates";
import { renderServiceUnit, ServiceUnitSpec } from "./units";
import { SERVICES } from "./layout";
import type { HostContext } from "./types";
import { durableDelivery, MEMORY_LIMITER, QUEUE_STORAGE, queueStorage } from "./services/otelcol";
import { COMPONENTS, RELEASE_ARCH } from "./versions";

/** Paths, user and ports on the application instance. */
export const APP_AGENT = {
  unit: "otelcol-agent.service",
  user: "otelcol-agent",
  bin: "/usr/local/bin/otelcol-contrib",
  configDir: "/etc/otelcol-agent",
  config: "/etc/otelcol-agent/config.yaml",
  caFile: "/etc/otelcol-agent/tls/monitoring-ca.crt",
  clientCertFile: "/etc/otelcol-agent/tls/client.crt",
  clientKeyFile: "/etc/otelcol-agent/tls/client.key",
  /** systemd StateDirectory: /var/lib/otelcol-agent, created and owned for the unit's user by systemd. */
  stateDirectory: "otelcol-agent",
  queueDir: "/var/lib/otelcol-agent/queue",
  /** Loopback listeners the applications send to (the OTel SDKs' default endpoints). */
  ports: { otlpGrpc: 4317, otlpHttp: 4318, health: 13133, metrics: 8888 },
} as const;

/** The systemd credential name of the client key (read from $CREDENTIALS_DIRECTORY). */
const CLIENT_KEY_CREDENTIAL = "otlp-client.key";

export interface AppAgentView {
  /** The monitoring host's OTLP/gRPC endpoint, `<private ip>:4317` (its server certificate names that IP). */
  gatewayIp: string;
  gatewayPort: number;
  /** PEM of the stack's OTLP CA (the `otlpCaCertificate` output). */
  caCertPem: string;
  /** Present mutual-TLS client credentials (the files the install script installs from next to it). */
  clientCertificate: boolean;
}

export function appAgentView(ctx: Pick<HostContext, "privateIp" | "otlpCaCertPem">, opts: { clientCertificate?: boolean } = {}): AppAgentView {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ctx.privateIp)) throw new Error(`the monitoring host's OTLP address must be an IPv4 address (its certificate names it), got ${JSON.stringify(ctx.privateIp)}`);
  if (!ctx.otlpCaCertPem.includes("-----BEGIN CERTIFICATE-----")) throw new Error("the OTLP CA certificate (otlpCaCertificate) is not a PEM certificate");
  return {
    gatewayIp: ctx.privateIp,
    gatewayPort: SERVICES.otelcol.ports.otlpGrpc,
    caCertPem: ctx.otlpCaCertPem,
    clientCertificate: opts.clientCertificate ?? false,
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
          min_version: "1.2",
          ...(v.clientCertificate ? { cert_file: APP_AGENT.clientCertFile, key_file: `\${env:CREDENTIALS_DIRECTORY}/${CLIENT_KEY_CREDENTIAL}` } : {}),
        },
        ...durableDelivery(),
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
    credentials: v.clientCertificate ? [{ name: CLIENT_KEY_CREDENTIAL, source: APP_AGENT.clientKeyFile }] : [],
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

/** The published release the install script downloads and verifies, per architecture. */
export function appAgentRelease(): { version: string; baseUrl: string; checksumFile: string; artifacts: Record<string, string> } {
  const c = COMPONENTS.otelcol;
  const arches = Object.values(RELEASE_ARCH);
  return {
    version: c.version,
    baseUrl: c.baseUrl(),
    checksumFile: c.checksum(arches[0]).file,
    artifacts: Object.fromEntries(arches.map((a) => [a, c.artifact(a)])),
  };
}

export interface AgentFile {
  /** File name in the rendered directory (the install script finds its files next to itself). */
  name: string;
  /** Where the install script puts it on the application instance. */
  installPath?: string;
  content: string;
  mode: string;
}

/** Everything `npm run render:agent` writes: config, unit, CA and the install script. */
export function appAgentFiles(v: AppAgentView): AgentFile[] {
  const rel = appAgentRelease();
  const unit = appAgentUnit(v);
  const config = renderTemplate("agent/config.yaml.hbs", { config: yamlBlock(appAgentConfig(v)) });
  const install = renderTemplate("agent/install.sh.hbs", {
    version: rel.version,
    baseUrl: rel.baseUrl,
    checksumFile: rel.checksumFile,
    artifactAmd64: rel.artifacts.amd64,
    artifactArm64: rel.artifacts.arm64,
    user: APP_AGENT.user,
    bin: APP_AGENT.bin,
    configDir: APP_AGENT.configDir,
    config: APP_AGENT.config,
    caFile: APP_AGENT.caFile,
    clientCertFile: APP_AGENT.clientCertFile,
    clientKeyFile: APP_AGENT.clientKeyFile,
    clientCertificate: v.clientCertificate,
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
    { name: "monitoring-ca.crt", installPath: APP_AGENT.caFile, content: v.caCertPem.endsWith("\n") ? v.caCertPem : `${v.caCertPem}\n`, mode: "0644" },
    { name: "install.sh", content: install, mode: "0755" },
  ];
}
