/**
 * The one typed loader for stack configuration. It reads every key (each section in config/sections/), validates all
 * of them, and either returns a `StackConfig` or throws one `ConfigError` listing every problem (each naming its key,
 * the bad value and what is allowed). It runs before any resource is created and makes no AWS calls.
 */
import type { ConfigSource } from "./config-source";
import { ConfigProblems } from "./config-problems";
import { checkRouting } from "./alert-routing";
import { reportSecretsInPlainKeys, reportSecurityGroupQuota, reportUnknownKeys } from "./cross-key-checks";
import { parseLogAlerts } from "./log-alert-spec";
import { LoadOptions, Reader } from "./reader";
import { parseSlos } from "./slo-spec";
import { ENVIRONMENTS, type StackConfig } from "./stack-config";
import { ssmSizeProblem } from "./value-checks";
import { readAccess } from "./sections/access";
import { readAppScrapeTargets } from "./sections/app-scrape-targets";
import { readInstance } from "./sections/instance";
import { readOperations } from "./sections/operations";
import { readOtlp } from "./sections/otlp";
import { readPlacement } from "./sections/placement";
import { readReceivers } from "./sections/receivers";
import { readRemoteWrite } from "./sections/remote-write";
import { readReleaseDigests } from "./sections/release-digests";
import { readRetention } from "./sections/retention";
import { readRunbookBaseUrl } from "./sections/runbook-base-url";
import { readTags } from "./sections/tags";
import { readVolumes } from "./sections/volumes";

/** Keys of this program's namespace (Pulumi.yaml declares the scalar ones). Anything else set there is a typo and is reported. */
export const KNOWN_KEYS = [
  "environment",
  "protectData",
  "vpcId",
  "subnetId",
  "hosts",
  "secondSubnetId",
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
  "releaseDigests",
] as const;

export function loadStackConfig(source: ConfigSource, options: LoadOptions = { requireSecrets: true }): StackConfig {
  const p = new ConfigProblems();
  const r = new Reader(source, p);
  const k = (key: string) => `${source.project}:${key}`;

  reportUnknownKeys(source, p, KNOWN_KEYS);

  const environment = r.oneOf("environment", ENVIRONMENTS, { required: true });
  const isProduction = environment === "prd";
  const protectData = r.boolean("protectData", true);
  if (isProduction && protectData === false) {
    p.add(k("protectData"), "is false, but the prd environment always protects its data; remove the key or set it to true");
  }
  const { region, vpcId, subnetId, hosts, secondSubnetId } = readPlacement(r, p, k);
  const { instanceType, architecture } = readInstance(r, p, k);
  const { rootVolumeSizeGiB, dataVolume } = readVolumes(r, p, k);
  const retention = readRetention(r);
  const { mode, sshUser, adminCidrs, authorizedKeys } = readAccess(r, p, k);
  const otlp = readOtlp(r, p, k);
  const grafanaAdminPassword = r.secret("grafanaAdminPassword", options, {
    check: (v) => (v.length < 16 ? "must be at least 16 characters long" : ssmSizeProblem(v)),
  });
  const receivers = readReceivers(r, p, k, options);
  const runbookBaseUrl = readRunbookBaseUrl(r, p, k, source, isProduction);
  const tags = readTags(r, p, k);
  const appScrapeTargets = readAppScrapeTargets(r, p, k);
  const operations = readOperations(r, p, k, isProduction, options);
  const slos = parseSlos(r.raw("slos"), k("slos"), p);
  const remoteWrite = readRemoteWrite(r, p, k);
  if (mode !== undefined) {
    reportSecurityGroupQuota(p, k, { otlp, access: { mode, sshUser: sshUser ?? "", adminCidrs, authorizedKeys }, alerting: { receivers }, appScrapeTargets, hosts: hosts ?? 1 });
  }
  const logAlerts = parseLogAlerts(r.raw("logAlerts"), k("logAlerts"), p, slos);
  // Which digests the stack needs depends on its architecture: not asked while that is itself wrong.
  const releaseDigests = readReleaseDigests(r, p, k, p.items.some((x) => x.key === k("architecture")) ? undefined : architecture);

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
    hosts: hosts!,
    ...(secondSubnetId !== undefined ? { secondSubnetId } : {}),
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
    releaseDigests,
  };
}
