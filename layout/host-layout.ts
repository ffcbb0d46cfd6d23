/**
 * Where things live on a monitoring host: mount point, per-service data directories, users, ports.
 *
 * This is the single place that decides the host's layout. Templates, units, the bootstrap script, the
 * security group and the tests all read it, so two services can never be given the same port by accident
 * (a test asserts the ports are unique).
 */
import * as path from "path";

/** Mount point of the separate EBS data volume. Every service's state lives below it. */
export const DATA_MOUNT = "/var/lib/monitoring";

/** Device name used in the EC2 volume attachment. On Nitro instances it shows up as NVMe: the host finds it by the
 * volume id instead (`dataVolumeDevice`). */
export const DATA_DEVICE_NAME = "/dev/sdf";

/**
 * The data volume's device on a Nitro instance: EBS volumes are NVMe devices whose by-id link carries the volume id
 * without its dash (`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`), whatever order the kernel found them in.
 */
export function dataVolumeDevice(volumeId: string): string {
  return `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}`;
}

/** How long systemd waits for the data volume to appear (Pulumi attaches it after the instance started). */
export const DATA_DEVICE_TIMEOUT = "10min";

/** Filesystem label written when (and only when) the data volume is blank. XFS labels hold at most 12 characters
 * (`mkfs.xfs -L` refuses longer ones): tests/host-agent/apply.spec.ts formats a file with the real mkfs.xfs. */
export const DATA_FS_LABEL = "monitoring";
export const XFS_LABEL_MAX = 12;

/** Config bundle and helper scripts installed on the host. */
export const CONFIG_ROOT = "/etc/monitoring-host";
export const BIN_ROOT = "/usr/local/lib/monitoring-host";
/** The host agent's own state (fetched bundles, verified release archives, applied markers), on the root volume. */
export const STATE_DIR = "/var/lib/monitoring-host";
/**
 * node_exporter's textfile directory: the apply step writes facts only the host knows there (the expiry of every
 * certificate the host serves), node_exporter exposes them, and the meta-alerts watch them.
 */
export const TEXTFILE_DIR = `${STATE_DIR}/textfile`;
/** Unprivileged user that polls S3 and downloads bundles and release archives; only the apply step runs as root. */
export const SYNC_USER = "monitoring-sync";
/** Files read from SSM Parameter Store at boot (secrets). tmpfs-backed, never on the data volume. */
export const SECRETS_DIR = "/run/monitoring-host/secrets";

/** Grafana's home: its release tree (bin/, public/, conf/defaults.ini) is installed here whole. */
export const GRAFANA_HOME = "/opt/grafana";

/**
 * The services of the stack: system user, data directory (on the data volume), binary, main config file and
 * ports. Units, templates and the install script all take their paths from here.
 */
export const SERVICES = {
  prometheus: {
    user: "prometheus",
    dataDir: `${DATA_MOUNT}/prometheus`,
    bin: "/usr/local/bin/prometheus",
    config: "/etc/prometheus/prometheus.yml",
    ports: { http: 9090 },
  },
  alertmanager: {
    user: "alertmanager",
    dataDir: `${DATA_MOUNT}/alertmanager`,
    bin: "/usr/local/bin/alertmanager",
    config: "/etc/alertmanager/alertmanager.yml",
    ports: { http: 9093 },
  },
  grafana: {
    user: "grafana",
    dataDir: `${DATA_MOUNT}/grafana`,
    bin: `${GRAFANA_HOME}/bin/grafana`,
    config: "/etc/grafana/grafana.ini",
    ports: { http: 3000 },
  },
  loki: {
    user: "loki",
    dataDir: `${DATA_MOUNT}/loki`,
    bin: "/usr/local/bin/loki",
    config: "/etc/loki/loki.yaml",
    // Loki and Tempo both default to gRPC 9095 and memberlist 7946: Loki keeps the defaults, Tempo moves.
    // Neither needs gossip on one host, but the modules may still open the listener: loopback only.
    ports: { http: 3100, grpc: 9095, memberlist: 7946 },
  },
  tempo: {
    user: "tempo",
    dataDir: `${DATA_MOUNT}/tempo`,
    bin: "/usr/local/bin/tempo",
    config: "/etc/tempo/tempo.yaml",
    // Tempo's own OTLP receivers would clash with the collector's 4317/4318; they listen on loopback only.
    ports: { http: 3200, grpc: 9096, otlpGrpc: 4417, otlpHttp: 4418, memberlist: 7947 },
  },
  otelcol: {
    user: "otelcol",
    dataDir: `${DATA_MOUNT}/otelcol`,
    bin: "/usr/local/bin/otelcol-contrib",
    config: "/etc/otelcol-contrib/config.yaml",
    ports: { otlpGrpc: 4317, otlpHttp: 4318, metrics: 8888, health: 13133, prometheusExporter: 8889 },
  },
  nodeExporter: {
    user: "node_exporter",
    dataDir: "",
    bin: "/usr/local/bin/node_exporter",
    config: "",
    ports: { http: 9100 },
  },
} as const;

export type ServiceName = keyof typeof SERVICES;

/** The only ports reachable from the VPC: the collector's OTLP receivers (TLS). Everything else binds 127.0.0.1. */
/**
 * Alertmanager's gossip port (its default), TCP and UDP, open between the two hosts of a pair only (the flags name
 * it on the host, the security-group rules in AWS).
 */
export const ALERTMANAGER_CLUSTER_PORT = 9094;

export const OTLP_PORTS = [SERVICES.otelcol.ports.otlpGrpc, SERVICES.otelcol.ports.otlpHttp] as const;

/** Every port any service listens on, for collision tests. */
export function allPorts(): { service: ServiceName; name: string; port: number }[] {
  return (Object.keys(SERVICES) as ServiceName[]).flatMap((service) =>
    Object.entries(SERVICES[service].ports).map(([name, port]) => ({ service, name, port: port as number })),
  );
}

/** Directory Prometheus loads rule files from (`rule_files: [<dir>/*.yml]`). The SLO rules and the meta-alerts
 * each drop one file here. */
export const PROMETHEUS_RULES_DIR = "/etc/prometheus/rules";

/**
 * Production timing of the alerting path. The physical floor of "problem starts" → "page sent" is
 * scrape + evaluation + the rule's `for` + Alertmanager `group_wait`; benchmarks print it from these values.
 */
export const ALERTING_TIMING = {
  scrapeInterval: "15s",
  evaluationInterval: "15s",
  groupWait: "30s",
  groupInterval: "5m",
  repeatIntervalPage: "4h",
  repeatIntervalTicket: "24h",
} as const;

/** Scrape jobs of the stack itself. Application jobs (appScrapeTargets) may not reuse these names. */
export const STACK_JOBS = {
  prometheus: "prometheus",
  alertmanager: "alertmanager",
  grafana: "grafana",
  loki: "loki",
  tempo: "tempo",
  otelcol: "otelcol",
  /** Application metrics received over OTLP and exposed by the collector's prometheus exporter. */
  otelcolApps: "otelcol-apps",
  node: "node",
} as const;

/**
 * systemd unit of each service. The units themselves are written elsewhere (systemd/); these names are the
 * contract for `HostFile.onChange`.
 */
export const SERVICE_UNITS: Record<ServiceName, string> = {
  prometheus: "prometheus.service",
  alertmanager: "alertmanager.service",
  grafana: "grafana.service",
  loki: "loki.service",
  tempo: "tempo.service",
  otelcol: "otelcol.service",
  nodeExporter: "node_exporter.service",
};

/** Config directory of a service (the directory of its main config file). */
export function configDir(service: ServiceName): string {
  return path.posix.dirname(SERVICES[service].config);
}

export const GRAFANA_PROVISIONING_DIR = `${configDir("grafana")}/provisioning`;
export const GRAFANA_DATASOURCES_FILE = `${GRAFANA_PROVISIONING_DIR}/datasources/monitoring-host.yaml`;
export const GRAFANA_DASHBOARD_PROVIDERS_FILE = `${GRAFANA_PROVISIONING_DIR}/dashboards/monitoring-host.yaml`;
/** Dashboard JSON files (filled by a later issue); subfolders become Grafana folders. */
export const GRAFANA_DASHBOARDS_DIR = `${configDir("grafana")}/dashboards`;

/** Data source uids other provisioning (dashboards, links) refers to. Never change them: links break. */
export const DATASOURCE_UIDS = {
  prometheus: "prometheus",
  loki: "loki",
  tempo: "tempo",
  alertmanager: "alertmanager",
} as const;
/** The AMP data source's uid (provisioned with `remoteWrite` only). */
export const AMP_DATASOURCE_UID = "amp";

/**
 * Loki's ruler (log alerts, rules/log-alert-rules.ts): rules in the local rule storage on the data volume, one directory per
 * tenant. With `auth_enabled: false` every request runs as the tenant "fake" (pkg/loki/modules.go), so the collector
 * writes and the ruler must read that tenant's rules. The evidence for each key: docs/log-alerts.md.
 */
export const LOKI_RULER = {
  /**
   * `ruler.storage.local.directory`: `<dir>/<tenant>/<file>` (pkg/ruler/rulestore/local/local.go). On the data
   * volume but beside Loki's own directory, not in it: that one is the unit's StateDirectory=, which systemd may
   * chown to loki, while the rule files are the apply step's (root-owned, read-only for Loki).
   */
  storageDir: `${DATA_MOUNT}/loki-rules`,
  tenant: "fake",
  /** `ruler.rule_path`: where the ruler writes the rule files it hands to its Prometheus rule managers. */
  rulePath: `${SERVICES.loki.dataDir}/rules-temp`,
  /** How often the rules run; a group may set its own `interval`. */
  evaluationInterval: "1m",
  /** How often the ruler re-reads the rule storage: a changed rule file is live within this, without a restart. */
  pollInterval: "1m",
} as const;

/** The one rule file the bundle delivers (rules/log-alert-rules.ts). */
export const LOKI_RULES_FILE = `${LOKI_RULER.storageDir}/${LOKI_RULER.tenant}/log-alerts.yaml`;

/** The host agent's units and scripts. */
export const AGENT = {
  secretsUnit: "monitoring-secrets.service",
  syncUnit: "monitoring-sync.service",
  syncTimer: "monitoring-sync.timer",
  applyUnit: "monitoring-apply.service",
  applyPath: "monitoring-apply.path",
  secretsScript: `${BIN_ROOT}/monitoring-secrets`,
  syncScript: `${BIN_ROOT}/monitoring-sync`,
  applyScript: `${BIN_ROOT}/monitoring-apply`,
  /** Prometheus' ExecStart: adds the retention size from the filesystem at every start (prometheus-start.sh). */
  prometheusStart: `${BIN_ROOT}/prometheus-start`,
  /**
   * The applied bundle without the files' contents (paths, modes, owners and actions stay), written by the apply
   * step: what the secrets unit and the health check read, and what the next apply compares against (removed
   * files, changed secrets).
   */
  appliedBundle: `${CONFIG_ROOT}/bundle.json`,
  /** Written by the apply step with the ETag of the bundle it applied (absent: the host was never bootstrapped). */
  appliedMarker: `${STATE_DIR}/applied-etag`,
  /** Written by the sync step after a new bundle is fetched and verified; the path unit starts apply on change. */
  readyFile: `${STATE_DIR}/sync/ready`,
  /** How often the host polls the bundle's ETag. */
  pollInterval: "90s",
} as const;
