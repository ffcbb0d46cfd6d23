/**
 * The host's systemd units: one per service (the telemetry services) plus the host agent's secrets, sync and apply
 * units, its timer and its path unit, as `HostFile`s. Paths, users and ports come from layout/host-layout.ts,
 * command lines from services/flags.ts, so a unit cannot disagree with the config it runs. The unit model and its
 * sandbox are in systemd-unit.ts.
 *
 * Every unit is sandboxed to an exposure score of at most 2.0 (`systemd-analyze security`), tests/units.spec.ts
 * checks each one.
 */
import type { StackConfig } from "../config/stack-config";
import { AGENT, DATA_MOUNT, SECRETS_DIR, SERVICE_UNITS, ServiceName, SERVICES, STATE_DIR, SYNC_USER } from "../layout/host-layout";
import { secretFiles } from "./secrets";
import { PROMETHEUS_VOLUME_SHARE_PERCENT, serviceFlags } from "./services/flags";
import { renderTemplate, SYSTEMD_DIR } from "./templates";
import type { HostFile, HostPair } from "../layout/host-file";
import { renderServiceUnit, ServiceUnitSpec, UNIT_DIR } from "./systemd-unit";


/**
 * Prometheus talks to loopback only, unless it scrapes applications directly (`appScrapeTargets`): then also their
 * networks. Applications known only by security group have no CIDR to list; the security group's egress rules (the
 * metrics ports towards those groups) are the limit then. Names resolve through systemd-resolved on 127.0.0.53.
 */
export function prometheusNetwork(cfg: StackConfig, pair?: HostPair): ServiceUnitSpec["network"] {
  // Remote write goes to AMP's public HTTPS endpoint (aps-workspaces.<region>.amazonaws.com), whose addresses are
  // AWS's to change: the security group's egress (HTTPS) is the limit then.
  if (cfg.remoteWrite) return "any";
  // A pair's Prometheus also sends alerts to the other host's Alertmanager.
  const peer = pair ? [`${pair.peerIp}/32`] : [];
  if (cfg.appScrapeTargets.length === 0) return peer.length ? { allow: peer } : "loopback";
  if (cfg.otlp.allowedSecurityGroupIds.length > 0) return "any";
  return { allow: [...cfg.otlp.allowedCidrs, ...peer] };
}

/** The services that run telemetry (one unit each). */
function serviceSpecs(cfg: StackConfig, pair?: HostPair): ServiceUnitSpec[] {
  const flags = serviceFlags(cfg, pair);
  const creds = (unit: string) =>
    secretFiles(cfg)
      .filter((s) => s.unit === unit)
      .map((s) => ({ name: s.credential, source: s.sourcePath }));
  const withSecrets = (unit: string): Partial<ServiceUnitSpec> => {
    const credentials = creds(unit);
    if (credentials.length === 0) return {};
    // Secrets come from SSM at every boot; without them the service would start half-configured.
    return { credentials, requires: [AGENT.secretsUnit], after: [AGENT.secretsUnit] };
  };
  const base = (name: ServiceName, description: string, doc: string): ServiceUnitSpec => {
    const s = SERVICES[name];
    return {
      name: SERVICE_UNITS[name],
      description,
      documentation: doc,
      type: "simple",
      user: s.user,
      execStart: [[s.bin, ...flags[name]]],
      after: ["network-online.target"],
      wants: ["network-online.target"],
      // State must land on the data volume, never on the root volume when the volume is missing.
      requiresMountsFor: s.dataDir ? [s.dataDir] : [],
      network: "loopback",
      ...(s.dataDir ? { stateDirectory: s.dataDir } : {}),
      restart: "on-failure",
      wantedBy: "multi-user.target",
    };
  };
  const merge = (a: ServiceUnitSpec, b: Partial<ServiceUnitSpec>): ServiceUnitSpec => ({
    ...a,
    ...b,
    after: [...(a.after ?? []), ...(b.after ?? [])],
    requires: [...(a.requires ?? []), ...(b.requires ?? [])],
  });
  const hup = "/bin/kill -HUP $MAINPID";
  return [
    {
      ...base("prometheus", "Prometheus", "https://prometheus.io/docs/"),
      // The TSDB's size cap comes from its filesystem at start, not from config (a grown volume whose XFS was not
      // grown yet must not be overfilled).
      execStart: [[AGENT.prometheusStart, String(PROMETHEUS_VOLUME_SHARE_PERCENT), SERVICES.prometheus.dataDir, SERVICES.prometheus.bin, ...flags.prometheus]],
      execReload: hup,
      limitNofile: 65536,
      network: prometheusNetwork(cfg, pair),
      // Remote write signs with the instance role's credentials (SigV4 through the AWS SDK's default chain: IMDS).
      ...(cfg.remoteWrite ? { imds: true } : {}),
    },
    // Receivers (Slack, PagerDuty, SMTP) are outside the host.
    merge({ ...base("alertmanager", "Alertmanager", "https://prometheus.io/docs/alerting/"), execReload: hup, network: "any" }, withSecrets(SERVICE_UNITS.alertmanager)),
    merge(
      {
        ...base("grafana", "Grafana", "https://grafana.com/docs/grafana/latest/"),
        // remoteWrite: the AMP data source signs with the instance role (IMDS) and queries AMP's HTTPS endpoint; the
        // AMP plugin is installed from grafana.com at start.
        ...(cfg.remoteWrite ? { network: "any" as const, imds: true } : {}),
      },
      withSecrets(SERVICE_UNITS.grafana),
    ),
    // Loki and Tempo keep their blocks in S3 and sign with the instance role's credentials (from IMDS).
    { ...base("loki", "Loki", "https://grafana.com/docs/loki/latest/"), network: "any", imds: true, limitNofile: 65536 },
    { ...base("tempo", "Tempo", "https://grafana.com/docs/tempo/latest/"), network: "any", imds: true, limitNofile: 65536 },
    // The OTLP receivers are the host's only listeners reachable from the VPC.
    merge(
      {
        ...base("otelcol", "OpenTelemetry Collector (contrib)", "https://opentelemetry.io/docs/collector/"),
        execReload: hup,
        network: "any",
        limitNofile: 65536,
        // The memory_limiter's limit_percentage needs the host's total memory, read from /proc/meminfo at start
        // (internal/memorylimiter/iruntime in opentelemetry-collector v0.149.0, fact "memory-limiter-total-memory"
        // in hostfiles/upstream-evidence/otelcol-0.149.0.json): ProcSubset=pid hides it and the collector exits.
        // Other processes stay invisible (ProtectProc=invisible).
        // Its journald receivers run journalctl, which reads the journal files of other units only for members of
        // systemd-journal (journald writes them group-readable by it).
        extra: [
          ["ProcSubset", "all"],
          ["SupplementaryGroups", "systemd-journal"],
        ],
      },
      withSecrets(SERVICE_UNITS.otelcol),
    ),
    {
      ...base("nodeExporter", "Prometheus node_exporter", "https://github.com/prometheus/node_exporter"),
      // Needs /proc (meminfo, diskstats, /proc/1/mountinfo for the filesystem collector) and statfs() of the data
      // volume: the read-only view of ProtectSystem=strict keeps both; hiding /proc would blank the host metrics.
      requiresMountsFor: [DATA_MOUNT],
      extra: [
        ["ProtectProc", "default"],
        ["ProcSubset", "all"],
        // The netdev collector lists interfaces over rtnetlink: without AF_NETLINK it fails on every scrape.
        ["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"],
        // The timex collector reads the kernel clock state with adjtimex() (read-only: no CAP_SYS_TIME, so it
        // cannot set anything). ProtectClock= and the @privileged deny-list both filter it, which silently turned
        // the collector off; the last line allows exactly that one call again.
        ["ProtectClock", "no"],
        ["SystemCallFilter", "@system-service"],
        ["SystemCallFilter", "~@privileged @resources"],
        ["SystemCallFilter", "adjtimex"],
      ],
    },
  ];
}

/**
 * The AWS CLI v2 is a frozen CPython whose ctypes/libffi closures may need writable+executable memory, which
 * MemoryDenyWriteExecute= forbids; the units running it keep every other restriction (score unchanged).
 */
const AWS_CLI_MEMORY: [string, string] = ["MemoryDenyWriteExecute", "no"];

/** The host agent: secrets at boot, the S3 poll (unprivileged) and the apply step (root, no network). */
function agentSpecs(): ServiceUnitSpec[] {
  return [
    {
      name: AGENT.secretsUnit,
      description: "Read the monitoring host's secrets from SSM Parameter Store into tmpfs",
      type: "oneshot",
      user: "dynamic",
      // The applied bundle's `secrets` (names and versions), into this unit's RuntimeDirectory.
      execStart: [[AGENT.secretsScript, AGENT.appliedBundle, SECRETS_DIR]],
      after: ["network-online.target"],
      wants: ["network-online.target"],
      // Instance role credentials come from IMDS, the parameters from the SSM endpoint.
      network: "any",
      imds: true,
      // The CLI retries throttled calls; the unit retries when SSM or IMDS is not reachable yet.
      environment: { HOME: "/tmp", AWS_RETRY_MODE: "standard", AWS_MAX_ATTEMPTS: "10" },
      runtimeDirectory: SECRETS_DIR.replace(/^\/run\//, ""),
      remainAfterExit: true,
      restart: "on-failure",
      wantedBy: "multi-user.target",
      extra: [["RuntimeDirectoryPreserve", "restart"], AWS_CLI_MEMORY],
    },
    {
      name: AGENT.syncUnit,
      description: "Fetch the monitoring host's config bundle from S3 when its ETag changed, and verify release downloads",
      type: "oneshot",
      user: SYNC_USER,
      execStart: [[AGENT.syncScript]],
      after: ["network-online.target"],
      wants: ["network-online.target"],
      // S3 (the bundle) with the instance role's credentials; the release archives over HTTPS.
      network: "any",
      imds: true,
      environment: { HOME: "/tmp" },
      readWritePaths: [`${STATE_DIR}/sync`],
      // Release archives are large (Grafana ~200 MB).
      timeoutStartSec: "30min",
      extra: [AWS_CLI_MEMORY],
    },
    {
      name: AGENT.applyUnit,
      description: "Apply the fetched monitoring config bundle (files, binaries, users, units)",
      type: "oneshot",
      // Installs root-owned files, creates users and restarts units; it never touches the network (the sync
      // step downloaded and verified everything it installs).
      user: "root",
      execStart: [[AGENT.applyScript]],
      // Files of the bundle live on the data volume: without it, systemd does not start the apply step at all.
      requiresMountsFor: [DATA_MOUNT],
      network: "none",
      environment: { APPLY_CAN_MOUNT: "no" },
      readWritePaths: ["/etc", "/usr/local", "/opt", DATA_MOUNT, STATE_DIR],
      capabilities: ["CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE"],
      timeoutStartSec: "15min",
      extra: [
        // chown (and systemd-sysusers' fchown) are in @privileged; the capability set above is what bounds them.
        ["SystemCallFilter", "@system-service @chown"],
        ["PrivateDevices", "yes"],
        ["ProtectProc", "invisible"],
      ],
    },
  ];
}

function timerUnit(): string {
  return renderTemplate("monitoring-sync.timer.hbs", { pollInterval: AGENT.pollInterval }, SYSTEMD_DIR);
}

function pathUnit(): string {
  return renderTemplate("monitoring-apply.path.hbs", { readyFile: AGENT.readyFile, applyUnit: AGENT.applyUnit }, SYSTEMD_DIR);
}

export function unitSpecs(cfg: StackConfig, pair?: HostPair): ServiceUnitSpec[] {
  return [...serviceSpecs(cfg, pair), ...agentSpecs()];
}

/** Units started and enabled by the apply step, in start order. */
export function enabledUnits(cfg: StackConfig): string[] {
  return [AGENT.secretsUnit, ...serviceSpecs(cfg).map((u) => u.name), AGENT.syncTimer, AGENT.applyPath];
}

/** Every unit file as a HostFile. A changed service unit restarts its service (after daemon-reload). */
export function unitFiles(cfg: StackConfig, pair?: HostPair): HostFile[] {
  const serviceNames = new Set(serviceSpecs(cfg).map((u) => u.name));
  const files: HostFile[] = unitSpecs(cfg, pair).map((u) => ({
    path: `${UNIT_DIR}/${u.name}`,
    content: renderServiceUnit(u),
    mode: "0644",
    owner: "root:root",
    ...(serviceNames.has(u.name) ? { onChange: { unit: u.name, action: "restart" as const } } : {}),
  }));
  files.push(
    { path: `${UNIT_DIR}/${AGENT.syncTimer}`, content: timerUnit(), mode: "0644", owner: "root:root", onChange: { unit: AGENT.syncTimer, action: "restart" } },
    { path: `${UNIT_DIR}/${AGENT.applyPath}`, content: pathUnit(), mode: "0644", owner: "root:root", onChange: { unit: AGENT.applyPath, action: "restart" } },
  );
  return files;
}
