/**
 * The stack configuration model: what `loadStackConfig` (config/loader.ts) returns once every key has been checked.
 * Types and the closed sets of allowed values only; the checks live beside the loader.
 */
import type { SecretValue } from "./secret-value";
import type { Duration } from "./duration";
import type { LogAlertSpec } from "./log-alert-spec";
import type { RoutedSeverity } from "./severities";
import type { SloSpec } from "./slo-spec";

export const ENVIRONMENTS = ["dev", "stg", "prd"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const ARCHITECTURES = ["x86_64", "arm64"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
/** One host, or an HA pair (docs/ha-pair.md). */
export const HOST_COUNTS = [1, 2] as const;
export type HostCount = (typeof HOST_COUNTS)[number];
export const ACCESS_MODES = ["ssm", "ssh"] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];
export const RECEIVER_TYPES = ["slack", "pagerduty", "email", "webhook"] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

export interface AlertReceiver {
  name: string;
  type: ReceiverType;
  /** Which alerts it gets. */
  severities: RoutedSeverity[];
  /**
   * Only alerts whose labels have these values (e.g. `{team: billing}`); the first matching receivers of a severity
   * take the alert. Unset: a fallback receiver, for alerts no `match` selects (config/alert-routing.ts).
   */
  match?: Record<string, string>;
  /** Slack channel (`#name`). */
  channel?: string;
  /** Email: recipient, sender, SMTP smarthost (`host:port`) and optional SMTP user. */
  to?: string;
  from?: string;
  smarthost?: string;
  authUsername?: string;
  /**
   * The receiver's secret (Slack webhook URL, PagerDuty routing key, webhook URL, SMTP password) from
   * `alertReceiverSecrets.<name>`. Stored in SSM Parameter Store and read into a file at boot, never inline.
   */
  secret?: SecretValue;
}

/** An application that exposes Prometheus metrics itself (not through the collector); scraped as job `<service>`. */
export interface AppScrapeTarget {
  service: string;
  /** `host:port` of each instance. */
  targets: string[];
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Default `http`. */
  scheme?: "http" | "https";
}

export interface StackConfig {
  project: string;
  stack: string;
  environment: Environment;
  /** `prd`: data protected from deletion, no force-destroy. */
  isProduction: boolean;
  /** Data volume and buckets are `protect`ed and retained when the stack deletes them. */
  protectData: boolean;
  region: string;
  vpcId: string;
  subnetId: string;
  /**
   * `hosts`: 1 (one host, the default) or 2, an HA pair (docs/ha-pair.md): the second host runs in `secondSubnetId`,
   * a subnet of another availability zone, with its own data volume; an internal Network Load Balancer spreads OTLP
   * over both collectors.
   */
  hosts: HostCount;
  /** With `hosts: 2`: the second host's subnet (another availability zone than `subnetId`'s). */
  secondSubnetId?: string;
  instanceType: string;
  architecture: Architecture;
  rootVolumeSizeGiB: number;
  dataVolume: { sizeGiB: number; iops: number; throughputMiBps: number };
  retention: { metrics: Duration; logs: Duration; traces: Duration };
  access: { mode: AccessMode; sshUser: string; adminCidrs: string[]; authorizedKeys: string[] };
  /**
   * `clients`: the applications that may send OTLP; each gets its own client certificate (mutual TLS), and a sender
   * without one is refused (docs/security.md).
   */
  otlp: { allowedCidrs: string[]; allowedSecurityGroupIds: string[]; clients: string[] };
  grafanaAdminPassword: SecretValue;
  alerting: { receivers: AlertReceiver[] };
  /**
   * Base URL under which a team publishes the rendered runbooks (out/<stack>/runbooks/ of `npm run render`); every
   * alert's runbook_url is then `<base>/<path>`. Unset: alerts link the runbooks the host's Grafana serves
   * (rules/runbook-links.ts).
   */
  runbookBaseUrl?: string;
  /** Extra tags for every resource (Name, environment and stack are always set). */
  tags: Record<string, string>;
  /** Operations: daily data-volume snapshots, the EC2-level alarm path that works when the host is dead, and the
   * post-deploy health check. */
  operations: {
    snapshotRetentionDays: number;
    hostAlarmEmails: string[];
    /** HTTPS endpoint of a pager (e.g. a PagerDuty CloudWatch integration URL); secret because it embeds a key. */
    hostAlarmPagerUrl?: SecretValue;
    verifyDeploy: boolean;
  };
  /** Applications Prometheus scrapes directly (`appScrapeTargets`); empty when unset. */
  appScrapeTargets: AppScrapeTarget[];
  /** Service Level Objectives (`slos`, docs/slos.md); rules/ turns them into recording rules and alerts. */
  slos: SloSpec[];
  /**
   * Alerts on log lines, evaluated by Loki's ruler (`logAlerts`, docs/log-alerts.md): the built-in defaults for the
   * host's services and the SLO services, changed or extended by the stack's entries.
   */
  logAlerts: LogAlertSpec[];
  /**
   * `remoteWrite`: Prometheus also sends every sample to Amazon Managed Service for Prometheus (docs/remote-write.md),
   * signed with the instance role (SigV4). Absent: nothing is sent and nothing about AMP is rendered or created.
   */
  remoteWrite?: RemoteWriteConfig;
  /**
   * `releaseDigests`: SHA-256 digests the operator supplies for release archives config/release-manifest.ts cannot
   * pin, keyed `<component>@<version>/<architecture>` (docs/configuration.md); validated, lower-case. Empty when unset.
   */
  releaseDigests: Record<string, string>;
}

/** Where remote write goes: an existing AMP workspace, or one the stack creates (`workspace: create`). */
export interface RemoteWriteConfig {
  /** The id of an existing workspace in the stack's region; undefined: the stack creates one. */
  workspaceId?: string;
}
