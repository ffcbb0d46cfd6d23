/**
 * The one typed loader for stack configuration. It reads every key, validates all of them, and either returns a
 * `StackConfig` or throws one `ConfigError` listing every problem (each naming its key, the bad value and what is
 * allowed). It runs before any resource is created and makes no AWS calls.
 */
import { Address4, Address6 } from "ip-address";
// The provider's own lists of regions and instance types (generated from its schema): no AWS call needed.
import { Region as AWS_REGIONS, ec2 as ec2Enums } from "@pulumi/aws/types/enums";
import { ConfigSource, ENCRYPTED } from "./config-source";
import { ConfigProblems, SecretValue, didYouMean, hasInvisible, show } from "./config-problems";
import { parseDuration, Duration } from "./duration";
import { ALARM_DESCRIPTION_MAX_CHARS, hostAlarmDescription, STATUS_CHECK_ACTIONS, StatusCheck } from "./host-alarm-text";
import { egressRules, ingressRules } from "./network-rules";
import { MAX_EXTRA_TAGS, PROGRAM_TAG_KEYS, PROGRAM_TAG_PREFIX } from "./tags";
import { SERVICES, STACK_JOBS, SYNC_USER } from "../layout/host-layout";
import { parseSlos, SloSpec, templateProblem } from "./slo-spec";
import { parseLogAlerts, LogAlertSpec } from "./log-alert-spec";
import { checkRouting } from "./alert-routing";

export { ConfigError, SecretValue } from "./config-problems";
export type { Duration } from "./duration";

export const ENVIRONMENTS = ["dev", "stg", "prd"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const ARCHITECTURES = ["x86_64", "arm64"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export const ACCESS_MODES = ["ssm", "ssh"] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];
export const RECEIVER_TYPES = ["slack", "pagerduty", "email", "webhook"] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];
/** Alert severities the rules emit, plus `watchdog` for the always-firing dead-man's-switch alert. */
export const ROUTED_SEVERITIES = ["page", "ticket", "watchdog"] as const;
export type RoutedSeverity = (typeof ROUTED_SEVERITIES)[number];

/** Safe minimums: below these the services do not fit (root) or Prometheus' size-based retention is useless. */
export const MIN_ROOT_VOLUME_GIB = 16;
export const MIN_DATA_VOLUME_GIB = 20;
/**
 * gp3 limits (Amazon EBS User Guide, "General Purpose SSD volumes", gp3 performance): 1 GiB to 64 TiB; 3,000 IOPS
 * included, up to 80,000 and at most 500 IOPS per GiB; 125 MiB/s included, up to 2,000 and at most 0.25 MiB/s per
 * provisioned IOPS. CreateVolume refuses anything else, after the rest of the stack was created.
 */
export const MAX_VOLUME_GIB = 65536;
export const GP3 = { minIops: 3000, maxIops: 80000, iopsPerGiB: 500, minThroughput: 125, maxThroughput: 2000, mibpsPerIops: 0.25 } as const;
/**
 * Inbound (and, separately, outbound) rules per security group: 60 by default, counted separately for IPv4 and
 * IPv6; a rule that references a security group counts once for each (Amazon VPC User Guide, "Amazon VPC quotas").
 */
export const SECURITY_GROUP_RULE_QUOTA = 60;
/**
 * The longest retention: Prometheus refuses `--storage.tsdb.retention.time=500y` ("duration out of range", checked
 * with prometheus 2.42), and Loki and Tempo take Go durations, which overflow at 2,562,047h (about 292 years).
 */
export const MAX_RETENTION_SECONDS = 100 * 365 * 86400;
/**
 * Login users that break the host: root cannot log in (`PermitRootLogin no`), and a service user would get
 * NOPASSWD sudo and own that service's data.
 */
/** Host secrets go to SSM Parameter Store as standard parameters, whose values hold at most 4 KB (Systems Manager quotas). */
export const SSM_STANDARD_VALUE_MAX_BYTES = 4096;
const ssmSizeProblem = (v: string) =>
  Buffer.byteLength(v, "utf8") > SSM_STANDARD_VALUE_MAX_BYTES
    ? `is ${Buffer.byteLength(v, "utf8")} bytes; SSM Parameter Store holds at most ${SSM_STANDARD_VALUE_MAX_BYTES} (value not shown)`
    : undefined;

export const FORBIDDEN_SSH_USERS = ["root", ...Object.values(SERVICES).map((s) => s.user), SYNC_USER];

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
}

/** Where remote write goes: an existing AMP workspace, or one the stack creates (`workspace: create`). */
export interface RemoteWriteConfig {
  /** The id of an existing workspace in the stack's region; undefined: the stack creates one. */
  workspaceId?: string;
}

/** AMP workspace ids (API reference, DescribeWorkspace: 1 to 64 characters, `[0-9A-Za-z][-.0-9A-Z_a-z]*`). */
export const AMP_WORKSPACE_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]{0,63}$/;

export interface LoadOptions {
  /**
   * Whether a missing secret is an error. `pulumi up` needs them; the offline render never reads secret values
   * (they go to SSM, not into files), so it only warns.
   */
  requireSecrets: boolean;
}

/** Keys of this program's namespace (Pulumi.yaml declares the scalar ones). Anything else set there is a typo and is reported. */
export const KNOWN_KEYS = [
  "environment",
  "protectData",
  "vpcId",
  "subnetId",
  "instanceType",
  "architecture",
  "rootVolumeSizeGiB",
  "dataVolumeSizeGiB",
  "dataVolumeIops",
  "dataVolumeThroughputMiBps",
  "metricsRetention",
  "logsRetention",
  "tracesRetention",
  "accessMode",
  "sshUser",
  "sshAdminCidrs",
  "sshAuthorizedKeys",
  "otlpAllowedCidrs",
  "otlpAllowedSecurityGroupIds",
  "otlpClients",
  "grafanaAdminPassword",
  "alertReceivers",
  "alertReceiverSecrets",
  "runbookBaseUrl",
  "tags",
  "appScrapeTargets",
  "slos",
  "logAlerts",
  "snapshotRetentionDays",
  "hostAlarmEmails",
  "hostAlarmPagerUrl",
  "verifyDeploy",
  "remoteWrite",
] as const;

export function loadStackConfig(source: ConfigSource, options: LoadOptions = { requireSecrets: true }): StackConfig {
  const p = new ConfigProblems();
  const r = new Reader(source, p);
  const k = (key: string) => `${source.project}:${key}`;

  for (const full of source.keys()) {
    const [ns, key] = splitKey(full);
    if (ns === source.project && !(KNOWN_KEYS as readonly string[]).includes(key)) {
      const invisible = hasInvisible(key) ? "; it contains an invisible character (shown escaped)" : "";
      p.add(full, `unknown key${invisible}${didYouMean(key, KNOWN_KEYS, k)} (docs/configuration.md lists the keys)`);
    }
  }

  const environment = r.oneOf("environment", ENVIRONMENTS, { required: true });
  const isProduction = environment === "prd";
  const protectData = r.boolean("protectData", true);
  if (isProduction && protectData === false) {
    p.add(k("protectData"), "is false, but the prd environment always protects its data; remove the key or set it to true");
  }

  const region = r.string("aws:region", { required: true, qualified: true });
  const regions = Object.values(AWS_REGIONS) as string[];
  if (region !== undefined && !regions.includes(region)) {
    p.add("aws:region", `${show(region)} is not an AWS region; allowed: a region the AWS provider knows (like eu-west-1 or us-east-1)${didYouMean(region, regions)}`);
  }

  const vpcId = r.string("vpcId", { required: true });
  if (vpcId !== undefined && !/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/.test(vpcId)) {
    p.add(k("vpcId"), `${show(vpcId)} is not a VPC id (vpc- followed by 8 or 17 hex digits)`);
  }
  const subnetId = r.string("subnetId", { required: true });
  if (subnetId !== undefined && !/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/.test(subnetId)) {
    p.add(k("subnetId"), `${show(subnetId)} is not a subnet id (subnet- followed by 8 or 17 hex digits)`);
  }

  const instanceType = r.string("instanceType", { required: true });
  let architecture = r.oneOf("architecture", ARCHITECTURES, { required: true });
  if (instanceType !== undefined) {
    const m = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/.exec(instanceType);
    const known = Object.values(ec2Enums.InstanceType) as string[];
    if (!m) {
      p.add(k("instanceType"), `${show(instanceType)} is not an EC2 instance type of the form family.size (like t3.large or m7g.xlarge)${didYouMean(instanceType, known)}`);
    } else if (!known.includes(instanceType)) {
      const family = m[1];
      const sizes = known.filter((t) => t.startsWith(`${family}.`)).map((t) => t.split(".")[1]);
      p.add(
        k("instanceType"),
        sizes.length > 0
          ? `${show(instanceType)} does not exist: family ${family} has sizes ${sizes.join(", ")}`
          : `${show(instanceType)} is not an EC2 instance type: there is no family ${show(family)}${didYouMean(instanceType, known)} (like t3.large or m7g.xlarge)`,
      );
    } else if (m[1].startsWith("mac")) {
      p.add(k("instanceType"), `${show(instanceType)} is a Mac instance (dedicated hosts, macOS only); Amazon Linux needs another family, like t3 or m7g`);
    } else {
      const [, family, size] = m;
      if (["nano", "micro", "small"].includes(size)) {
        p.add(k("instanceType"), `${show(instanceType)} has too little memory for six services; use size medium or larger`);
      }
      const familyArch: Architecture = isGravitonFamily(family) ? "arm64" : "x86_64";
      if (architecture !== undefined && architecture !== familyArch) {
        p.add(
          k("architecture"),
          `is ${show(architecture)} but instance type ${instanceType} is ${familyArch}; set architecture to ${familyArch} or pick a matching instance type`,
        );
      }
      architecture ??= familyArch;
    }
  }

  const rootVolumeSizeGiB = r.integer("rootVolumeSizeGiB", MIN_ROOT_VOLUME_GIB, MAX_VOLUME_GIB);
  const dataVolume = {
    sizeGiB: r.integer("dataVolumeSizeGiB", MIN_DATA_VOLUME_GIB, MAX_VOLUME_GIB),
    iops: r.integer("dataVolumeIops", GP3.minIops, GP3.maxIops),
    throughputMiBps: r.integer("dataVolumeThroughputMiBps", GP3.minThroughput, GP3.maxThroughput),
  };
  if (dataVolume.sizeGiB !== undefined && dataVolume.iops !== undefined && dataVolume.iops > dataVolume.sizeGiB * GP3.iopsPerGiB) {
    p.add(
      k("dataVolumeIops"),
      `${dataVolume.iops} is more than gp3 allows for ${dataVolume.sizeGiB} GiB (${GP3.iopsPerGiB} IOPS per GiB: at most ${dataVolume.sizeGiB * GP3.iopsPerGiB}); ` +
        `lower it or raise dataVolumeSizeGiB to at least ${Math.ceil(dataVolume.iops / GP3.iopsPerGiB)}`,
    );
  }
  if (dataVolume.iops !== undefined && dataVolume.throughputMiBps !== undefined && dataVolume.throughputMiBps > dataVolume.iops * GP3.mibpsPerIops) {
    p.add(
      k("dataVolumeThroughputMiBps"),
      `${dataVolume.throughputMiBps} is more than gp3 allows for ${dataVolume.iops} IOPS (${GP3.mibpsPerIops} MiB/s per IOPS: at most ${Math.floor(dataVolume.iops * GP3.mibpsPerIops)}); ` +
        `lower it or raise dataVolumeIops to at least ${Math.ceil(dataVolume.throughputMiBps / GP3.mibpsPerIops)}`,
    );
  }

  const retention = {
    metrics: r.duration("metricsRetention", { minSeconds: 2 * 3600, what: "from 2h (one TSDB block) to 100y" }),
    logs: r.duration("logsRetention", { minSeconds: 86400, multipleOfSeconds: 86400, what: "whole days (Loki's index period is 24h), at most 100y" }),
    traces: r.duration("tracesRetention", { minSeconds: 3600, what: "from 1h to 100y" }),
  };

  const mode = r.oneOf("accessMode", ACCESS_MODES, { required: true });
  const sshUser = r.string("sshUser", { required: true });
  if (sshUser !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) {
    p.add(k("sshUser"), `${show(sshUser)} is not a valid Linux user name (lower-case letters, digits, _ and -, at most 32, not starting with a digit)`);
  } else if (sshUser !== undefined && FORBIDDEN_SSH_USERS.includes(sshUser)) {
    p.add(
      k("sshUser"),
      sshUser === "root"
        ? `"root" cannot log in (the host sets PermitRootLogin no); use ec2-user or a personal account, which gets sudo`
        : `${show(sshUser)} is a service user of the host (it would get NOPASSWD sudo and own that service's data); not allowed: ${FORBIDDEN_SSH_USERS.join(", ")}`,
    );
  }
  const adminCidrs = r.cidrList("sshAdminCidrs");
  if (mode === "ssh" && adminCidrs.length === 0) {
    p.add(k("sshAdminCidrs"), `is empty, but accessMode is "ssh": list the admin networks allowed to reach port 22, or use accessMode "ssm" (no open port)`);
  }
  if (mode === "ssm" && adminCidrs.length > 0) {
    p.add(k("sshAdminCidrs"), `is set, but accessMode is "ssm", which opens no ssh port; remove the CIDRs or set accessMode to "ssh"`);
  }
  const authorizedKeys = r.stringList("sshAuthorizedKeys");
  authorizedKeys.forEach((key, i) => {
    const problem = sshPublicKeyProblem(key);
    if (problem) p.add(`${k("sshAuthorizedKeys")}[${i}]`, `${show(key)} ${problem}`);
  });
  reportDuplicates(p, k("sshAuthorizedKeys"), authorizedKeys.map((key) => key.split(/\s+/).slice(0, 2).join(" ")));

  const otlp = {
    allowedCidrs: r.cidrList("otlpAllowedCidrs"),
    allowedSecurityGroupIds: r.stringList("otlpAllowedSecurityGroupIds"),
    clients: r.stringList("otlpClients"),
  };
  otlp.clients.forEach((name, i) => {
    if (!OTLP_CLIENT_NAME.test(name)) {
      p.add(`${k("otlpClients")}[${i}]`, `${show(name)} must be lowercase letters, digits and dashes, starting with a letter, at most 63 characters (it names the client certificate and its SSM parameters)`);
    }
  });
  reportDuplicates(p, k("otlpClients"), otlp.clients);
  if (otlp.clients.length === 0) {
    p.add(k("otlpClients"), "is empty: the collector accepts only senders with a client certificate, so no application could send telemetry; list the applications (docs/security.md)");
  }
  otlp.allowedSecurityGroupIds.forEach((id, i) => {
    if (!/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) {
      p.add(`${k("otlpAllowedSecurityGroupIds")}[${i}]`, `${show(id)} is not a security group id (sg- followed by 8 or 17 hex digits)`);
    }
  });
  reportDuplicates(p, k("otlpAllowedSecurityGroupIds"), otlp.allowedSecurityGroupIds);
  if (otlp.allowedCidrs.length === 0 && otlp.allowedSecurityGroupIds.length === 0) {
    p.add(
      k("otlpAllowedCidrs"),
      "is empty and so is otlpAllowedSecurityGroupIds: no application could send telemetry; list the CIDRs or security groups of the applications",
    );
  }

  const grafanaAdminPassword = r.secret("grafanaAdminPassword", options, {
    check: (v) => (v.length < 16 ? "must be at least 16 characters long" : ssmSizeProblem(v)),
  });

  const receivers = readReceivers(r, p, k, options);
  const runbookBaseUrl = r.string("runbookBaseUrl");
  if (runbookBaseUrl !== undefined && !/^https?:\/\/[^\s]+[^/\s]$/.test(runbookBaseUrl)) {
    p.add(k("runbookBaseUrl"), `${show(runbookBaseUrl)} must be an http(s) URL without a trailing slash`);
  } else if (runbookBaseUrl !== undefined && templateProblem(runbookBaseUrl)) {
    p.add(k("runbookBaseUrl"), `${show(runbookBaseUrl)} ${templateProblem(runbookBaseUrl)}`);
  } else if (runbookBaseUrl !== undefined && isProduction && isPlaceholderUrl(runbookBaseUrl)) {
    p.add(
      k("runbookBaseUrl"),
      `${show(runbookBaseUrl)} is a placeholder: every alert's runbook link would be dead in prd. Remove the key (alerts then link ` +
        "the runbooks the host's Grafana serves) or set the URL where you publish out/<stack>/runbooks/",
    );
  } else if (runbookBaseUrl !== undefined) {
    const longest = Math.max(
      ...(Object.keys(STATUS_CHECK_ACTIONS) as StatusCheck[]).map((c) => hostAlarmDescription({ project: source.project, stack: source.stack, runbookBaseUrl }, c).length),
    );
    if (longest > ALARM_DESCRIPTION_MAX_CHARS) {
      p.add(
        k("runbookBaseUrl"),
        `is ${runbookBaseUrl.length} characters: the host alarms' descriptions that link to it would be ${longest}, over CloudWatch's ${ALARM_DESCRIPTION_MAX_CHARS}; ` +
          `use a URL of at most ${runbookBaseUrl.length - (longest - ALARM_DESCRIPTION_MAX_CHARS)} characters`,
      );
    }
  }
  const tags = readTags(r, p, k);
  const appScrapeTargets = readAppScrapeTargets(r, p, k);
  const operations = readOperations(r, p, k, isProduction, options);
  const slos = parseSlos(r.raw("slos"), k("slos"), p);
  const remoteWrite = readRemoteWrite(r, p, k);
  for (const [i, t] of appScrapeTargets.entries()) {
    if ((Object.values(STACK_JOBS) as string[]).includes(t.service)) {
      p.add(
        `${k("appScrapeTargets")}[${i}].service`,
        `${show(t.service)} is the name of a scrape job of the monitoring stack itself; reserved: ${Object.values(STACK_JOBS).join(", ")}`,
      );
    }
  }
  if (mode !== undefined) {
    const counted = { otlp, access: { mode, sshUser: sshUser ?? "", adminCidrs, authorizedKeys }, alerting: { receivers }, appScrapeTargets };
    reportRuleQuota(p, "inbound", ingressRules(counted), mode === "ssh" ? [k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds"), k("sshAdminCidrs")] : [k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds")]);
    reportRuleQuota(p, "outbound", egressRules(counted), [k("appScrapeTargets"), k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds")]);
  }
  const logAlerts = parseLogAlerts(r.raw("logAlerts"), k("logAlerts"), p, slos);

  reportSecretsInPlainKeys(source, p);
  checkRouting(slos, receivers, appScrapeTargets.map((t) => t.service), p, { slos: k("slos"), receivers: k("alertReceivers") });

  p.throwIfAny(source.stack);
  // Every field below was checked above; the problems list is empty, so none is undefined.
  return {
    project: source.project,
    stack: source.stack,
    environment: environment!,
    isProduction,
    protectData: isProduction || protectData!,
    region: region!,
    vpcId: vpcId!,
    subnetId: subnetId!,
    instanceType: instanceType!,
    architecture: architecture!,
    rootVolumeSizeGiB: rootVolumeSizeGiB!,
    dataVolume: dataVolume as StackConfig["dataVolume"],
    retention: retention as StackConfig["retention"],
    access: { mode: mode!, sshUser: sshUser!, adminCidrs, authorizedKeys },
    otlp,
    grafanaAdminPassword: grafanaAdminPassword!,
    alerting: { receivers },
    ...(runbookBaseUrl !== undefined ? { runbookBaseUrl } : {}),
    tags,
    appScrapeTargets,
    operations: operations as StackConfig["operations"],
    slos,
    logAlerts,
    ...(remoteWrite ? { remoteWrite } : {}),
  };
}

/** `remoteWrite: { workspace: create }` or `remoteWrite: { workspace: <existing workspace id> }`. */
function readRemoteWrite(r: Reader, p: ConfigProblems, k: (key: string) => string): RemoteWriteConfig | undefined {
  const raw = r.raw("remoteWrite");
  if (raw === undefined) return undefined;
  const allowed = "an object { workspace: create } or { workspace: <id of an existing AMP workspace, like ws-…> }";
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(k("remoteWrite"), `${show(raw)} is not allowed; allowed: ${allowed}`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (key !== "workspace") p.add(`${k("remoteWrite")}.${key}`, `unknown key; allowed: workspace${didYouMean(key, ["workspace"])}`);
  }
  const workspace = (raw as Record<string, unknown>).workspace;
  if (workspace === undefined) {
    p.add(`${k("remoteWrite")}.workspace`, "is required; allowed: create, or the id of an existing AMP workspace in the stack's region");
    return undefined;
  }
  if (workspace === "create") return {};
  if (typeof workspace !== "string" || !AMP_WORKSPACE_ID.test(workspace)) {
    p.add(
      `${k("remoteWrite")}.workspace`,
      `${show(workspace)} is not allowed; allowed: create, or an AMP workspace id (1 to 64 letters, digits, - . _, starting with a letter or digit, like ws-b226cc2a-a446-46a9-933a-ac50479a5568)`,
    );
    return undefined;
  }
  return { workspaceId: workspace };
}

/** An application name in `otlpClients`: it becomes a certificate's common name and an SSM parameter path segment. */
export const OTLP_CLIENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * A URL that cannot be anyone's real site: the reserved example domains and TLDs (RFC 2606/6761), or a path naming
 * an example organisation or a placeholder (what the project's own documentation shows).
 */
export function isPlaceholderUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const host = u.hostname.toLowerCase();
  return (
    /(^|\.)example\.(com|org|net)$/.test(host) ||
    /\.(example|invalid|test|localhost)$/.test(host) ||
    /(^|[/.-])(example-org|your-org|placeholder)([/.-]|$)/i.test(u.pathname + "/" + host)
  );
}

/** Graviton families: a digit, then `g` (t4g, m7g, m7gd, c6gn, im4gn, is4gen, g5g), plus the first-generation a1. */
export function isGravitonFamily(family: string): boolean {
  return family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(family);
}

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** Returns why `line` is not an OpenSSH public key line, or undefined when it is one. */
export function sshPublicKeyProblem(line: string): string | undefined {
  // authorized_keys is one key per line: a newline inside one entry would install two keys (or a broken one).
  if (/[\r\n]/.test(line)) return "contains a line break; list each key as its own entry";
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(line)) return "contains a control character";
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return "is not an OpenSSH public key (expected `<type> <base64> [comment]`)";
  const [type, blob] = parts;
  if (!SSH_KEY_TYPES.includes(type)) return `has key type ${show(type)}; allowed: ${SSH_KEY_TYPES.join(", ")}`;
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(blob)) return "has a key body that is not base64";
  const bytes = Buffer.from(blob, "base64");
  if (bytes.length < 4) return "has a key body that is too short";
  const len = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + len).toString("latin1");
  if (inner !== type) return `says ${type} but its key body encodes ${show(inner)} (was the key truncated or pasted wrongly?)`;
  if (type === "ssh-rsa" && bytes.length < 270) return "is an RSA key shorter than 2048 bits";
  return undefined;
}

function splitKey(full: string): [string, string] {
  const i = full.indexOf(":");
  return i < 0 ? ["", full] : [full.slice(0, i), full.slice(i + 1)];
}

function reportDuplicates(p: ConfigProblems, key: string, values: string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) p.add(key, `lists ${show(v)} more than once; each entry must be unique`);
    seen.add(v);
  }
}

/** Shortest secret value looked for elsewhere (hostfiles/bundle.ts refuses artefacts containing one of this length). */
const SECRET_MIN_MATCH = 8;

/**
 * A secret's value written again under a plain key (an SMTP password also given as authUsername, a webhook URL also
 * in runbookBaseUrl) would end up in the config bundle; the bundle renderer refuses that, but only after resources
 * exist. Found here instead, naming the plain key and the secret key, never the value.
 */
function reportSecretsInPlainKeys(source: ConfigSource, p: ConfigProblems): void {
  const strings = (v: unknown): string[] =>
    typeof v === "string" ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === "object" ? Object.values(v).flatMap(strings) : [];
  const secrets = source
    .keys()
    .filter((key) => source.isSecret(key))
    .flatMap((key) => strings(source.get(key)).map((value) => ({ key, value })))
    .filter((s) => s.value.length >= SECRET_MIN_MATCH);
  for (const key of source.keys().filter((k) => !source.isSecret(k))) {
    const plain = strings(source.get(key));
    for (const s of secrets) {
      if (plain.some((v) => v.includes(s.value))) {
        p.add(key, `contains the value of the secret ${s.key} (value not shown); a secret may appear nowhere else in the config`);
      }
    }
  }
}

/**
 * Refuses more rules than the default security-group quota allows (per direction, IPv4 and IPv6 counted apart, a
 * rule referencing a security group counting for both): AWS would refuse the surplus rules mid-deploy.
 */
function reportRuleQuota(p: ConfigProblems, direction: "inbound" | "outbound", rules: { cidr?: string; securityGroupId?: string }[], keys: string[]): void {
  const v4 = rules.filter((r) => r.securityGroupId !== undefined || (r.cidr !== undefined && !r.cidr.includes(":"))).length;
  const v6 = rules.filter((r) => r.securityGroupId !== undefined || (r.cidr !== undefined && r.cidr.includes(":"))).length;
  for (const [family, n] of [["IPv4", v4], ["IPv6", v6]] as const) {
    if (n > SECURITY_GROUP_RULE_QUOTA) {
      p.add(
        keys[0],
        `together with ${keys.slice(1).join(" and ")} gives ${n} ${direction} ${family} security-group rules, over AWS's default quota of ` +
          `${SECURITY_GROUP_RULE_QUOTA} per group (each OTLP source gets one rule per port ${direction === "inbound" ? "4317 and 4318" : "and scrape port"}); ` +
          "list fewer, broader networks or put the applications in a few security groups",
      );
    }
  }
}

function readReceivers(
  r: Reader,
  p: ConfigProblems,
  k: (key: string) => string,
  options: LoadOptions,
): AlertReceiver[] {
  const key = k("alertReceivers");
  const raw = r.raw("alertReceivers");
  const secretsKey = k("alertReceiverSecrets");
  const secretsRaw = r.raw("alertReceiverSecrets");
  const secretsEncrypted = secretsRaw === ENCRYPTED;
  let secrets: Record<string, unknown> = {};
  if (secretsRaw !== undefined && !secretsEncrypted) {
    if (!r.isSecret("alertReceiverSecrets")) {
      p.add(secretsKey, "holds receiver credentials but is stored in plain text; set it with `pulumi config set --secret --path`");
    }
    if (typeof secretsRaw !== "object" || secretsRaw === null || Array.isArray(secretsRaw)) {
      p.add(secretsKey, "must be an object mapping receiver name to its secret (webhook URL, routing key or SMTP password)");
    } else {
      secrets = secretsRaw as Record<string, unknown>;
    }
  }
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
    p.add(key, "is empty: alerts would reach nobody; add at least one receiver for severities page and ticket");
    return [];
  }
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of receivers, got ${show(raw)}`);
    return [];
  }
  const receivers: AlertReceiver[] = [];
  raw.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      p.add(at, `must be an object with name, type and severities, got ${show(item)}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const allowedFields = ["name", "type", "severities", "match", "channel", "to", "from", "smarthost", "authUsername"];
    for (const field of Object.keys(o)) {
      if (!allowedFields.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${allowedFields.join(", ")}${didYouMean(field, allowedFields)}`);
    }
    const name = o.name;
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
      p.add(`${at}.name`, `${show(name)} must be lower-case letters, digits and dashes (at most 63)`);
    }
    const type = o.type as ReceiverType;
    if (!RECEIVER_TYPES.includes(type)) p.add(`${at}.type`, `${show(type)} is not allowed; allowed: ${RECEIVER_TYPES.join(", ")}${didYouMean(type, RECEIVER_TYPES)}`);
    const severities = o.severities;
    if (!Array.isArray(severities) || severities.length === 0) {
      p.add(`${at}.severities`, `must be a non-empty list of ${ROUTED_SEVERITIES.join(", ")}`);
    } else {
      severities.forEach((s, j) => {
        if (!ROUTED_SEVERITIES.includes(s)) p.add(`${at}.severities[${j}]`, `${show(s)} is not allowed; allowed: ${ROUTED_SEVERITIES.join(", ")}${didYouMean(s, ROUTED_SEVERITIES)}`);
      });
    }
    const match = readMatch(o.match, `${at}.match`, p);
    const str = (field: string) => (typeof o[field] === "string" ? (o[field] as string) : undefined);
    if (type === "slack" && (o.channel === undefined || o.channel === "")) {
      p.add(`${at}.channel`, `is required for slack receivers (like "#alerts")`);
    } else if (type === "slack" && !/^#?[a-z0-9._-]{1,80}$/.test(str("channel") ?? "")) {
      p.add(`${at}.channel`, `${show(o.channel)} is not a Slack channel name: lower-case letters, digits, ".", "_" and "-", at most 80, optionally after "#" (like "#alerts")`);
    }
    if (type === "email") {
      for (const f of ["to", "from"]) {
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(str(f) ?? "")) p.add(`${at}.${f}`, `${show(o[f])} must be an email address`);
      }
      const port = Number(/:(\d{1,5})$/.exec(str("smarthost") ?? "")?.[1]);
      if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(str("smarthost") ?? "")) {
        p.add(`${at}.smarthost`, `${show(o.smarthost)} must be an SMTP server as host:port (like email-smtp.eu-west-1.amazonaws.com:587)`);
      } else if (!(port >= 1 && port <= 65535)) {
        p.add(`${at}.smarthost`, `${show(o.smarthost)} has port ${port}; allowed: 1 to 65535 (SMTP submission is 587)`);
      }
    }
    if (o.authUsername !== undefined && (typeof o.authUsername !== "string" || o.authUsername === "")) {
      p.add(`${at}.authUsername`, `${show(o.authUsername)} must be the SMTP user name as a non-empty string (quote it in YAML)`);
    } else if (o.authUsername !== undefined && type !== "email" && RECEIVER_TYPES.includes(type)) {
      p.add(`${at}.authUsername`, `is only used by email receivers`);
    }
    // Which receivers need a secret: all but an email receiver without SMTP auth.
    const needsSecret = type !== "email" || str("authUsername") !== undefined;
    let secret: SecretValue | undefined;
    if (typeof name === "string" && needsSecret) {
      const value = secrets[name];
      if (secretsEncrypted || value === ENCRYPTED) {
        secret = new SecretValue(undefined);
      } else if (value === undefined || value === "") {
        if (options.requireSecrets) {
          p.add(
            `${secretsKey}.${name}`,
            `missing required secret for ${type} receiver ${show(name)}; set it with \`pulumi config set --secret --path '${secretsKey}.${name}' <value>\``,
          );
        }
      } else if (typeof value !== "string") {
        p.add(`${secretsKey}.${name}`, "must be a string");
      } else {
        const problem = receiverSecretProblem(type, value) ?? ssmSizeProblem(value);
        if (problem) p.add(`${secretsKey}.${name}`, problem);
        secret = new SecretValue(value);
      }
    }
    receivers.push({
      name: name as string,
      type,
      severities: (Array.isArray(severities) ? severities : []) as RoutedSeverity[],
      ...(match ? { match } : {}),
      channel: str("channel"),
      to: str("to"),
      from: str("from"),
      smarthost: str("smarthost"),
      authUsername: str("authUsername"),
      secret,
    });
  });
  reportDuplicates(p, `${key}[].name`, receivers.map((x) => x.name).filter((n) => typeof n === "string"));
  for (const severity of ["page", "ticket"] as const) {
    if (receivers.length > 0 && !receivers.some((x) => x.severities.includes(severity))) {
      p.add(key, `no receiver takes severity ${show(severity)}: those alerts would reach nobody`);
    }
  }
  const unknownSecrets = Object.keys(secrets).filter((n) => !receivers.some((x) => x.name === n));
  for (const n of unknownSecrets) p.add(`${secretsKey}.${n}`, `names no receiver in alertReceivers`);
  return receivers;
}

/** A receiver's `match`: label names as Prometheus allows them, non-empty string values; `severity` has its own field. */
function readMatch(raw: unknown, at: string, p: ConfigProblems): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    p.add(at, `must be a non-empty object of alert label to value (like {team: billing}), got ${show(raw)}`);
    return undefined;
  }
  const match: Record<string, string> = {};
  for (const [label, value] of Object.entries(raw)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label) || label.startsWith("__")) {
      p.add(`${at}.${label}`, "is not a Prometheus label name (letters, digits, underscores; not starting with a digit or __)");
    } else if (label === "severity") {
      p.add(`${at}.${label}`, "cannot be matched here; list the receiver's severities in its `severities` field");
    } else if (typeof value !== "string" || value === "") {
      p.add(`${at}.${label}`, `${show(value)} must be a non-empty string (the label value to match exactly)`);
    } else {
      match[label] = value;
    }
  }
  return match;
}

/** Checks the shape of a receiver secret without ever echoing it. */
function receiverSecretProblem(type: ReceiverType, value: string): string | undefined {
  if (type === "slack" && !/^https:\/\/hooks\.slack\.com\/\S+$/.test(value)) return "must be a Slack incoming-webhook URL (https://hooks.slack.com/...); value not shown";
  if (type === "webhook" && !/^https:\/\/\S+$/.test(value)) return "must be an https:// URL; value not shown";
  if (type === "pagerduty" && !/^[A-Za-z0-9]{32}$/.test(value)) return "must be a 32-character PagerDuty Events API v2 routing key; value not shown";
  return undefined;
}

function readAppScrapeTargets(r: Reader, p: ConfigProblems, k: (key: string) => string): AppScrapeTarget[] {
  const key = k("appScrapeTargets");
  const raw = r.raw("appScrapeTargets");
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of {service, targets, metricsPath?, scheme?}, got ${show(raw)}`);
    return [];
  }
  const result: AppScrapeTarget[] = [];
  raw.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      p.add(at, `must be an object with service and targets, got ${show(item)}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const allowedFields = ["service", "targets", "metricsPath", "scheme"];
    for (const field of Object.keys(o)) {
      if (!allowedFields.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${allowedFields.join(", ")}${didYouMean(field, allowedFields)}`);
    }
    // The service becomes the Prometheus job label: keep it a plain label value that reads well in queries.
    const service = o.service;
    const serviceOk = typeof service === "string" && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(service);
    if (!serviceOk) p.add(`${at}.service`, `${show(service)} must be lower-case letters, digits, dashes and underscores (at most 63)`);
    const targets = o.targets;
    let targetsOk = Array.isArray(targets) && targets.length > 0;
    if (!targetsOk) {
      p.add(`${at}.targets`, `must be a non-empty list of "host:port", got ${show(targets)}`);
    } else {
      (targets as unknown[]).forEach((t, j) => {
        if (typeof t !== "string" || !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(t) || Number(t.split(":")[1]) > 65535) {
          p.add(`${at}.targets[${j}]`, `${show(t)} must be host:port (like 10.0.1.5:8080 or api.internal:9102)`);
          targetsOk = false;
        }
      });
      reportDuplicates(p, `${at}.targets`, (targets as unknown[]).filter((t): t is string => typeof t === "string"));
    }
    const metricsPath = o.metricsPath;
    if (metricsPath !== undefined && (typeof metricsPath !== "string" || !/^\/\S*$/.test(metricsPath))) {
      p.add(`${at}.metricsPath`, `${show(metricsPath)} must be a URL path starting with / (like /metrics)`);
    }
    const scheme = o.scheme;
    if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
      p.add(`${at}.scheme`, `${show(scheme)} is not allowed; allowed: http, https`);
    }
    if (serviceOk && targetsOk) {
      result.push({
        service: service as string,
        targets: targets as string[],
        ...(typeof metricsPath === "string" ? { metricsPath } : {}),
        ...(scheme === "http" || scheme === "https" ? { scheme } : {}),
      });
    }
  });
  reportDuplicates(p, `${key}[].service`, raw.map((x) => (x as Record<string, unknown> | null)?.service).filter((s): s is string => typeof s === "string"));
  return result;
}

function readTags(r: Reader, p: ConfigProblems, k: (key: string) => string): Record<string, string> {
  const raw = r.raw("tags");
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(k("tags"), `must be an object of tag name to value, got ${show(raw)}`);
    return {};
  }
  const tags: Record<string, string> = {};
  // AWS tag rules (Billing user guide, "User-defined tag restrictions", and the per-service tag docs): keys 1-128 and values 0-256
  // characters, letters, digits, spaces and + - = . _ : / @ (the set every service accepts), no aws: prefix.
  const allowedChars = /^[\p{L}\p{N} +\-=._:/@]*$/u;
  const chars = "letters, digits, spaces and + - = . _ : / @";
  for (const [name, value] of Object.entries(raw)) {
    const at = `${k("tags")}.${name}`;
    if ((PROGRAM_TAG_KEYS as readonly string[]).includes(name) || name.startsWith(PROGRAM_TAG_PREFIX)) {
      p.add(at, `is set by the program itself and cannot be overridden; reserved: ${PROGRAM_TAG_KEYS.join(", ")} and keys starting with ${PROGRAM_TAG_PREFIX}`);
    } else if (name.toLowerCase().startsWith("aws:")) {
      p.add(at, "starts with aws:, which AWS reserves for its own tags");
    } else if ([...name].length > 128 || !allowedChars.test(name) || name.trim() === "") {
      p.add(at, `is not a valid tag key: 1 to 128 characters, ${chars}`);
    } else if (typeof value !== "string") {
      p.add(at, `${show(value)} must be a string (quote numbers and booleans in YAML)`);
    } else if ([...value].length > 256 || !allowedChars.test(value)) {
      p.add(at, `${show(value)} is not a valid tag value: at most 256 characters, ${chars}`);
    } else {
      tags[name] = value;
    }
  }
  if (Object.keys(raw).length > MAX_EXTRA_TAGS) {
    p.add(
      k("tags"),
      `has ${Object.keys(raw).length} tags; at most ${MAX_EXTRA_TAGS}: AWS allows 50 per resource and the data volume's snapshots carry ${50 - MAX_EXTRA_TAGS} of the program's own (${PROGRAM_TAG_KEYS.join(", ")} and two ${PROGRAM_TAG_PREFIX} tags)`,
    );
  }
  return tags;
}

/** Typed, problem-collecting access to raw config values. */
class Reader {
  constructor(
    private readonly source: ConfigSource,
    private readonly p: ConfigProblems,
  ) {}

  full(key: string, qualified = false): string {
    return qualified ? key : `${this.source.project}:${key}`;
  }

  raw(key: string, qualified = false): unknown {
    return this.source.get(this.full(key, qualified));
  }

  isSecret(key: string): boolean {
    return this.source.isSecret(this.full(key));
  }

  string(key: string, opts: { required?: boolean; qualified?: boolean } = {}): string | undefined {
    const full = this.full(key, opts.qualified);
    const v = this.source.get(full);
    if (v === undefined || v === "") {
      if (opts.required) this.p.add(full, "is required but not set");
      return undefined;
    }
    if (typeof v !== "string") {
      this.p.add(full, `must be a string, got ${show(v)}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], opts: { required?: boolean } = {}): T | undefined {
    const v = this.string(key, opts);
    if (v === undefined) return undefined;
    if (!allowed.includes(v as T)) {
      this.p.add(this.full(key), `${show(v)} is not allowed; allowed: ${allowed.join(", ")}${didYouMean(v, allowed)}`);
      return undefined;
    }
    return v as T;
  }

  boolean(key: string, fallback: boolean): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    this.p.add(this.full(key), `${show(v)} must be true or false`);
    return undefined;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (v === undefined) {
      this.p.add(full, "is required but not set");
      return undefined;
    }
    if (!Number.isInteger(n)) {
      this.p.add(full, `${show(v)} must be a whole number from ${min} to ${max}`);
      return undefined;
    }
    if (n < min || n > max) {
      this.p.add(full, `${n} is out of range; allowed: ${min} to ${max}`);
      return undefined;
    }
    return n;
  }

  duration(key: string, rule: { minSeconds: number; multipleOfSeconds?: number; what: string }): Duration | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === undefined || v === "") {
      this.p.add(full, "is required but not set");
      return undefined;
    }
    const d = typeof v === "string" ? parseDuration(v) : undefined;
    if (!d) {
      this.p.add(full, `${show(v)} is not a duration; use a number with a unit, like 15d, 36h or 2w (units: y w d h m s)`);
      return undefined;
    }
    if (
      d.seconds <= 0 ||
      d.seconds < rule.minSeconds ||
      d.seconds > MAX_RETENTION_SECONDS ||
      (rule.multipleOfSeconds && d.seconds % rule.multipleOfSeconds !== 0)
    ) {
      this.p.add(full, `${show(v)} is not allowed; it must be ${rule.what}`);
      return undefined;
    }
    return d;
  }

  stringList(key: string): string[] {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      this.p.add(full, `must be a list of strings, got ${show(v)}`);
      return [];
    }
    return v as string[];
  }

  cidrList(key: string): string[] {
    const full = this.full(key);
    const list = this.stringList(key);
    list.forEach((cidr, i) => {
      const problem = cidrProblem(cidr);
      if (problem) this.p.add(`${full}[${i}]`, `${show(cidr)} ${problem}`);
    });
    reportDuplicates(this.p, full, list);
    return list;
  }

  /** A secret key; `optional` ones are simply absent (undefined) when unset. */
  secret(
    key: string,
    options: LoadOptions,
    rule: { optional?: boolean; check(v: string): string | undefined },
  ): SecretValue | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === ENCRYPTED) return new SecretValue(undefined);
    if (v === undefined || v === "") {
      if (rule.optional) return undefined;
      if (options.requireSecrets) {
        this.p.add(full, `missing required secret; set it with \`pulumi config set --secret ${key} <value>\``);
        return undefined;
      }
      return new SecretValue(undefined);
    }
    if (!this.source.isSecret(full)) {
      this.p.add(full, `is stored in plain text; store it as a secret with \`pulumi config set --secret ${key} <value>\` (value not shown)`);
    }
    if (typeof v !== "string") {
      this.p.add(full, "must be a string (value not shown)");
      return undefined;
    }
    const problem = rule.check(v);
    if (problem) this.p.add(full, `${problem} (value not shown)`);
    return new SecretValue(v);
  }
}

/**
 * Why `cidr` may not be used as an ingress source, or undefined when it may. World-open and very broad ranges
 * are refused: the host must never be reachable from the internet (Security Hub EC2.19).
 */
export function cidrProblem(cidr: string): string | undefined {
  if (!cidr.includes("/")) return "has no prefix length; write it as a CIDR like 10.20.0.0/16 (or 10.20.0.5/32 for one host)";
  const v6 = cidr.includes(":");
  if (v6 ? !Address6.isValid(cidr) : !Address4.isValid(cidr)) return `is not a valid ${v6 ? "IPv6" : "IPv4"} CIDR`;
  const addr = v6 ? new Address6(cidr) : new Address4(cidr);
  const min = v6 ? 32 : 8;
  if (addr.subnetMask === 0) return "opens the port to the whole internet; list your own networks instead";
  if (addr.subnetMask < min) return `is broader than /${min}; list your own networks instead`;
  const network = addr.startAddress().correctForm();
  const given = v6 ? new Address6(addr.addressMinusSuffix).correctForm() : addr.addressMinusSuffix;
  if (network !== given) return `has host bits set; the network is ${network}/${addr.subnetMask}`;
  return undefined;
}

function readOperations(
  r: Reader,
  p: ConfigProblems,
  k: (key: string) => string,
  isProduction: boolean,
  options: LoadOptions,
): Partial<StackConfig["operations"]> {
  const snapshotRetentionDays = r.integer("snapshotRetentionDays", 1, 365);
  if (isProduction && snapshotRetentionDays !== undefined && snapshotRetentionDays < 7) {
    p.add(k("snapshotRetentionDays"), `${snapshotRetentionDays} is too short for prd; allowed: 7 to 365`);
  }
  const hostAlarmEmails = r.stringList("hostAlarmEmails");
  hostAlarmEmails.forEach((e, i) => {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) p.add(`${k("hostAlarmEmails")}[${i}]`, `${show(e)} must be an email address`);
  });
  reportDuplicates(p, k("hostAlarmEmails"), hostAlarmEmails);
  const hostAlarmPagerUrl = r.secret("hostAlarmPagerUrl", options, {
    optional: true,
    check: (v) => (/^https:\/\/\S+$/.test(v) ? undefined : "must be an https:// URL"),
  });
  if (isProduction && hostAlarmEmails.length === 0 && hostAlarmPagerUrl === undefined) {
    p.add(
      k("hostAlarmEmails"),
      "is empty and hostAlarmPagerUrl is unset: in prd nobody would hear that the monitoring host itself died; add an address or a pager URL",
    );
  }
  return { snapshotRetentionDays, hostAlarmEmails, hostAlarmPagerUrl, verifyDeploy: r.boolean("verifyDeploy", true) };
}
