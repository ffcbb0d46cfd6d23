/**
 * A new user's mistakes, one row each: every bad configuration must be refused before any resource is registered,
 * with an error that names the key and says what is allowed, and without a stack trace. Each row runs three ways
 * in this one process: the config loader, the program itself (index.ts under the shared mocks, as `pulumi up`
 * would run it) and the offline render (`npm run render`, scripts/render.ts) from a stack file written with the
 * row's values.
 */
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { resources, settle } from "./support/mocks";
import { stackConfig, TEST_SECRETS } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";
import { sloRuleFiles } from "../rules/slo-rules";
import { buildSloModels } from "../rules/slo-model";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { FileConfigSource } from "../config/config-source";
import { renderStack, PROJECT_DIR } from "../scripts/render";
import { releaseDigestKey, unpinnedReleases } from "../config/release-manifest";

/** The arm64 archives config/release-manifest.ts pins no digest for (an arm64 stack must supply them). */
const ARM64_UNPINNED = unpinnedReleases("arm64");

const K = (key: string) => (key.startsWith("aws:") ? key : `monitoring-hosts:${key}`);

interface BadConfig {
  /** What the user did wrong. */
  what: string;
  stack?: "dev" | "prd";
  /** Plain values set in the stack file; undefined removes a key. */
  set?: Record<string, unknown>;
  /** Secret values (`pulumi config set --secret`); undefined removes a test secret. */
  secrets?: Record<string, unknown>;
  /** The key the error must name (without the namespace for this program's keys). */
  key: string;
  /** What the message must say (the allowed values, the limit, the suggestion). */
  says: RegExp;
  /** Secrets play a part: the offline render does not read them, so it is not asked. */
  noRender?: boolean;
}

function ed25519(comment = "oncall@example"): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")} ${comment}`;
}
const KEY_A = ed25519("a@example");
const KEY_B = ed25519("b@example");

const slack = (extra: Record<string, unknown> = {}) => ({ name: "team-slack", type: "slack", channel: "#alerts", severities: ["page", "ticket"], ...extra });
const email = (extra: Record<string, unknown> = {}) => ({
  name: "team-email",
  type: "email",
  to: "oncall@example.com",
  from: "monitoring@example.com",
  smarthost: "smtp.example.com:587",
  severities: ["ticket"],
  ...extra,
});
const latencySlo = (extra: Record<string, unknown> = {}) => ({
  name: "shop-latency",
  service: "shop-api",
  kind: "latency",
  selector: { route: "/orders", method: "POST" },
  objective: 99,
  threshold: "500ms",
  window: "28d",
  ...extra,
});
const app = (extra: Record<string, unknown> = {}) => ({ service: "shop-api", targets: ["10.0.1.5:9464"], ...extra });
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

const CASES: BadConfig[] = [
  // Unknown keys and typos
  { what: "a typo of a key, not only in case", set: { metricRetention: "7d" }, key: "metricRetention", says: /unknown key; did you mean monitoring-hosts:metricsRetention\?/ },
  { what: "a key in the wrong case", set: { instancetype: "t3.large" }, key: "instancetype", says: /did you mean monitoring-hosts:instanceType\?/ },
  { what: "a zero-width space pasted into a key", set: { "metrics\u200bRetention": "7d" }, key: "metrics\\u200bRetention", says: /invisible character.*did you mean monitoring-hosts:metricsRetention/ },
  { what: "a key that does not exist at all", set: { colour: "blue" }, key: "colour", says: /unknown key \(docs\/configuration\.md lists the keys\)/ },
  { what: "a shortened key", set: { dataVolumeSize: 100 }, key: "dataVolumeSize", says: /did you mean monitoring-hosts:dataVolumeSizeGiB\?/ },
  { what: "a plural typo", set: { hostAlarmEmail: ["a@example.com"] }, key: "hostAlarmEmail", says: /did you mean monitoring-hosts:hostAlarmEmails\?/ },
  // environment / protectData
  { what: "environment prod", set: { environment: "prod" }, key: "environment", says: /allowed: dev, stg, prd; did you mean "prd"\?/ },
  { what: "environment in capitals", set: { environment: "DEV" }, key: "environment", says: /allowed: dev, stg, prd; did you mean "dev"\?/ },
  { what: "environment unset", set: { environment: undefined }, key: "environment", says: /is required/ },
  { what: "prd that does not protect its data", stack: "prd", set: { protectData: false }, key: "protectData", says: /prd environment always protects/ },
  { what: "protectData yes", set: { protectData: "yes" }, key: "protectData", says: /must be true or false/ },
  // region
  { what: "a region that does not exist", set: { "aws:region": "eu-west-9" }, key: "aws:region", says: /not an AWS region.*did you mean "eu-west-1"\?/ },
  { what: "a region without its dash", set: { "aws:region": "euwest1" }, key: "aws:region", says: /not an AWS region/ },
  { what: "a region in capitals", set: { "aws:region": "EU-WEST-1" }, key: "aws:region", says: /did you mean "eu-west-1"\?/ },
  { what: "an availability zone as region", set: { "aws:region": "eu-west-1a" }, key: "aws:region", says: /did you mean "eu-west-1"\?/ },
  // VPC and subnet
  { what: "a short vpc id", set: { vpcId: "vpc-123" }, key: "vpcId", says: /8 or 17 hex digits/ },
  { what: "a security group as vpc", set: { vpcId: "sg-00000000000000000" }, key: "vpcId", says: /not a VPC id/ },
  { what: "a subnet id that is not one", set: { subnetId: "subnet-xyz" }, key: "subnetId", says: /not a subnet id/ },
  { what: "a vpc id as subnet", set: { subnetId: "vpc-00000000000000000" }, key: "subnetId", says: /not a subnet id/ },
  // HA pair (docs/ha-pair.md)
  { what: "three hosts", set: { hosts: 3 }, key: "hosts", says: /3 is not allowed; allowed: 1 \(one host\) or 2/ },
  { what: "hosts as a word", set: { hosts: "two" }, key: "hosts", says: /"two" is not allowed; allowed: 1 .* or 2/ },
  { what: "a pair without a second subnet", set: { hosts: 2 }, key: "secondSubnetId", says: /is required with hosts: 2.*another availability zone/ },
  {
    what: "a pair with the same subnet twice",
    set: { hosts: 2, secondSubnetId: "subnet-00000000000000000" },
    key: "secondSubnetId",
    says: /the same subnet as subnetId: .*another availability zone/,
  },
  { what: "a second subnet that is not one", set: { hosts: 2, secondSubnetId: "subnet-12" }, key: "secondSubnetId", says: /not a subnet id/ },
  { what: "a second subnet for one host", set: { secondSubnetId: "subnet-00000000000000001" }, key: "secondSubnetId", says: /hosts is 1: remove it, or set hosts to 2/ },
  // instance type and architecture
  { what: "an instance size that does not exist", set: { instanceType: "t3.larg" }, key: "instanceType", says: /family t3 has sizes .*large/ },
  { what: "an unknown instance family", set: { instanceType: "zz9.large" }, key: "instanceType", says: /there is no family "zz9"/ },
  { what: "an instance type without a size", set: { instanceType: "t3" }, key: "instanceType", says: /family\.size/ },
  { what: "a tiny instance type", set: { instanceType: "t3.micro" }, key: "instanceType", says: /medium or larger/ },
  { what: "a Mac instance type", set: { instanceType: "mac2.metal" }, key: "instanceType", says: /Mac instance/ },
  { what: "a Xen-based instance type (no NVMe by-id link for the data volume)", set: { instanceType: "t2.large" }, key: "instanceType", says: /"t2\.large" is a Xen-based type: .*NVMe by-id link.*only Nitro instances have; pick a Nitro type like t3\.large/ },
  { what: "a Xen-based storage type (i3, whose metal size alone is Nitro)", set: { instanceType: "i3.xlarge" }, key: "instanceType", says: /Xen-based type.*pick a Nitro type like i4i\.xlarge/ },
  { what: "a Graviton type with x86_64", set: { instanceType: "m7g.xlarge", architecture: "x86_64" }, key: "architecture", says: /instance type m7g\.xlarge is arm64/ },
  { what: "an x86 type with arm64", set: { instanceType: "t3.large", architecture: "arm64" }, key: "architecture", says: /is x86_64/ },
  { what: "architecture amd64", set: { architecture: "amd64" }, key: "architecture", says: /allowed: x86_64, arm64/ },
  { what: "architecture aarch64", set: { architecture: "aarch64" }, key: "architecture", says: /allowed: x86_64, arm64/ },
  // volumes
  { what: "a root volume below the minimum", set: { rootVolumeSizeGiB: 8 }, key: "rootVolumeSizeGiB", says: /allowed: 16 to 65536/ },
  { what: "a root volume size with a unit", set: { rootVolumeSizeGiB: "20GB" }, key: "rootVolumeSizeGiB", says: /whole number from 16 to 65536/ },
  { what: "a fractional volume size", set: { dataVolumeSizeGiB: 20.5 }, key: "dataVolumeSizeGiB", says: /whole number/ },
  { what: "a data volume below the minimum", set: { dataVolumeSizeGiB: 10 }, key: "dataVolumeSizeGiB", says: /allowed: 20 to 65536/ },
  { what: "a data volume above 64 TiB", set: { dataVolumeSizeGiB: 70000 }, key: "dataVolumeSizeGiB", says: /allowed: 20 to 65536/ },
  { what: "IOPS below gp3's baseline", set: { dataVolumeIops: 2000 }, key: "dataVolumeIops", says: /allowed: 3000 to 80000/ },
  { what: "IOPS above gp3's maximum", set: { dataVolumeIops: 90000 }, key: "dataVolumeIops", says: /allowed: 3000 to 80000/ },
  { what: "IOPS over 500 per GiB", set: { dataVolumeSizeGiB: 20, dataVolumeIops: 16000 }, key: "dataVolumeIops", says: /500 IOPS per GiB: at most 10000/ },
  { what: "throughput below gp3's baseline", set: { dataVolumeThroughputMiBps: 100 }, key: "dataVolumeThroughputMiBps", says: /allowed: 125 to 2000/ },
  { what: "throughput above gp3's maximum", set: { dataVolumeThroughputMiBps: 2500 }, key: "dataVolumeThroughputMiBps", says: /allowed: 125 to 2000/ },
  { what: "throughput over 0.25 MiB/s per IOPS", set: { dataVolumeIops: 3000, dataVolumeThroughputMiBps: 1000 }, key: "dataVolumeThroughputMiBps", says: /0\.25 MiB\/s per IOPS: at most 750/ },
  // retention
  { what: "metrics kept 500 years", set: { metricsRetention: "500y" }, key: "metricsRetention", says: /from 2h .* to 100y/ },
  { what: "traces kept 400 years", set: { tracesRetention: "400y" }, key: "tracesRetention", says: /from 1h to 100y/ },
  { what: "logs kept 200 years", set: { logsRetention: "200y" }, key: "logsRetention", says: /at most 100y/ },
  { what: "metrics kept one hour", set: { metricsRetention: "1h" }, key: "metricsRetention", says: /from 2h/ },
  { what: "retention in words", set: { metricsRetention: "15 days" }, key: "metricsRetention", says: /not a duration; .*units: y w d h m s/ },
  { what: "retention as a bare number", set: { tracesRetention: 7 }, key: "tracesRetention", says: /not a duration/ },
  { what: "logs retention not in whole days", set: { logsRetention: "36h" }, key: "logsRetention", says: /whole days/ },
  { what: "logs retention with hours", set: { logsRetention: "2w3h" }, key: "logsRetention", says: /whole days/ },
  { what: "retention with an upper-case unit", set: { metricsRetention: "15D" }, key: "metricsRetention", says: /not a duration/ },
  // access
  { what: "accessMode SSH in capitals", set: { accessMode: "SSH" }, key: "accessMode", says: /allowed: ssm, ssh; did you mean "ssh"\?/ },
  { what: "accessMode session-manager", set: { accessMode: "session-manager" }, key: "accessMode", says: /allowed: ssm, ssh/ },
  { what: "ssh mode without admin networks", set: { accessMode: "ssh" }, key: "sshAdminCidrs", says: /is empty, but accessMode is "ssh"/ },
  { what: "admin networks in ssm mode", set: { sshAdminCidrs: ["10.1.0.0/16"] }, key: "sshAdminCidrs", says: /accessMode is "ssm"/ },
  { what: "ssh open to the internet", set: { accessMode: "ssh", sshAdminCidrs: ["0.0.0.0/0"] }, key: "sshAdminCidrs[0]", says: /whole internet/ },
  { what: "an admin CIDR with host bits", set: { accessMode: "ssh", sshAdminCidrs: ["10.1.2.3/16"] }, key: "sshAdminCidrs[0]", says: /host bits set; the network is 10\.1\.0\.0\/16/ },
  { what: "an admin address without prefix", set: { accessMode: "ssh", sshAdminCidrs: ["10.1.2.3"] }, key: "sshAdminCidrs[0]", says: /no prefix length/ },
  { what: "sshUser root", set: { sshUser: "root" }, key: "sshUser", says: /PermitRootLogin no/ },
  { what: "sshUser a service user", set: { sshUser: "prometheus" }, key: "sshUser", says: /service user of the host.*not allowed: root, prometheus/ },
  { what: "sshUser the sync user", set: { sshUser: "monitoring-sync" }, key: "sshUser", says: /service user/ },
  { what: "sshUser with capitals", set: { sshUser: "Ec2-User" }, key: "sshUser", says: /not a valid Linux user name/ },
  { what: "sshUser too long", set: { sshUser: "a".repeat(40) }, key: "sshUser", says: /at most 32/ },
  { what: "two keys in one entry", set: { sshAuthorizedKeys: [`${KEY_A}\n${KEY_B}`] }, key: "sshAuthorizedKeys[0]", says: /line break; list each key as its own entry/ },
  { what: "a Windows line ending in a key", set: { sshAuthorizedKeys: [`${KEY_A}\r`] }, key: "sshAuthorizedKeys[0]", says: /line break/ },
  { what: "a key that is not one", set: { sshAuthorizedKeys: ["my laptop key"] }, key: "sshAuthorizedKeys[0]", says: /key type "my"/ },
  { what: "a DSA key", set: { sshAuthorizedKeys: ["ssh-dss AAAAB3NzaC1kc3M= old"] }, key: "sshAuthorizedKeys[0]", says: /allowed: ssh-ed25519/ },
  { what: "a key listed twice", set: { sshAuthorizedKeys: [KEY_A, KEY_A] }, key: "sshAuthorizedKeys", says: /more than once/ },
  { what: "keys as one string", set: { sshAuthorizedKeys: KEY_A }, key: "sshAuthorizedKeys", says: /must be a list of strings/ },
  // OTLP sources
  { what: "OTLP open to the internet", set: { otlpAllowedCidrs: ["0.0.0.0/0"] }, key: "otlpAllowedCidrs[0]", says: /whole internet/ },
  { what: "OTLP open to all of IPv6", set: { otlpAllowedCidrs: ["::/0"] }, key: "otlpAllowedCidrs[0]", says: /whole internet/ },
  { what: "a very broad OTLP network", set: { otlpAllowedCidrs: ["10.0.0.0/4"] }, key: "otlpAllowedCidrs[0]", says: /broader than \/8/ },
  { what: "an impossible prefix", set: { otlpAllowedCidrs: ["10.0.0.0/33"] }, key: "otlpAllowedCidrs[0]", says: /not a valid IPv4 CIDR/ },
  { what: "no OTLP source at all", set: { otlpAllowedCidrs: [] }, key: "otlpAllowedCidrs", says: /no application could send telemetry/ },
  { what: "more OTLP networks than the security-group quota", set: { otlpAllowedCidrs: many(31, (i) => `10.${i}.0.0/16`) }, key: "otlpAllowedCidrs", says: /62 inbound IPv4 security-group rules, over AWS's default quota of 60/ },
  { what: "more IPv6 networks than the quota", set: { otlpAllowedCidrs: many(31, (i) => `2001:db8:${i.toString(16)}::/48`) }, key: "otlpAllowedCidrs", says: /inbound IPv6 security-group rules/ },
  { what: "more security groups than the quota", set: { otlpAllowedSecurityGroupIds: many(31, (i) => `sg-${i.toString(16).padStart(17, "0")}`) }, key: "otlpAllowedCidrs", says: /over AWS's default quota of 60/ },
  { what: "ssh rules tipping the quota over", set: { accessMode: "ssh", otlpAllowedCidrs: many(29, (i) => `10.${i}.0.0/16`), sshAdminCidrs: ["192.168.0.0/24", "192.168.1.0/24", "192.168.2.0/24"] }, key: "otlpAllowedCidrs", says: /61 inbound IPv4/ },
  { what: "a short security group id", set: { otlpAllowedSecurityGroupIds: ["sg-123"] }, key: "otlpAllowedSecurityGroupIds[0]", says: /not a security group id/ },
  { what: "a security group listed twice", set: { otlpAllowedSecurityGroupIds: ["sg-0123456789abcdef0", "sg-0123456789abcdef0"] }, key: "otlpAllowedSecurityGroupIds", says: /more than once/ },
  { what: "an OTLP client name with spaces", set: { otlpClients: ["Shop API"] }, key: "otlpClients[0]", says: /lowercase letters, digits and dashes/ },
  { what: "no OTLP clients", set: { otlpClients: [] }, key: "otlpClients", says: /is empty/ },
  { what: "an OTLP client listed twice", set: { otlpClients: ["shop", "shop"] }, key: "otlpClients", says: /more than once/ },
  { what: "log alerts as one object", set: { logAlerts: { name: "x" } }, key: "logAlerts", says: /must be a list of log alerts/ },
  { what: "a log alert selector that is not LogQL", set: { logAlerts: [{ name: "x", service: "shop-api", threshold: 5, selector: "{job=" }] }, key: "logAlerts[0].selector", says: /not valid LogQL/ },
  // Grafana password
  { what: "a short Grafana password", secrets: { grafanaAdminPassword: "short" }, key: "grafanaAdminPassword", says: /at least 16 characters/, noRender: true },
  { what: "no Grafana password", secrets: { grafanaAdminPassword: undefined }, key: "grafanaAdminPassword", says: /missing required secret/, noRender: true },
  { what: "a Grafana password too big for SSM", secrets: { grafanaAdminPassword: "p".repeat(5000) }, key: "grafanaAdminPassword", says: /SSM Parameter Store holds at most 4096/, noRender: true },
  { what: "an SMTP password too big for SSM", set: { alertReceivers: [slack(), email({ authUsername: "smtp-user" })] }, secrets: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x", "team-email": "s".repeat(4097) } }, key: "alertReceiverSecrets.team-email", says: /at most 4096/, noRender: true },
  { what: "a Grafana password in plain text", secrets: { grafanaAdminPassword: undefined }, set: { grafanaAdminPassword: "plain-text-password-123" }, key: "grafanaAdminPassword", says: /stored in plain text/, noRender: true },
  // alert receivers
  { what: "no receivers", set: { alertReceivers: [] }, key: "alertReceivers", says: /alerts would reach nobody/ },
  { what: "receivers as an object", set: { alertReceivers: { "team-slack": "slack" } }, key: "alertReceivers", says: /must be a list of receivers/ },
  { what: "a receiver given as a string", set: { alertReceivers: ["team-slack"] }, key: "alertReceivers[0]", says: /must be an object with name, type and severities/ },
  { what: "a misspelt receiver field", set: { alertReceivers: [slack({ chanel: "#x" })] }, key: "alertReceivers[0].chanel", says: /unknown field; allowed: .*; did you mean "channel"\?/ },
  { what: "a receiver name with spaces", set: { alertReceivers: [slack({ name: "Team Slack" })] }, key: "alertReceivers[0].name", says: /lower-case letters, digits and dashes/ },
  { what: "a misspelt receiver type", set: { alertReceivers: [slack({ type: "slak" })] }, key: "alertReceivers[0].type", says: /allowed: slack, pagerduty, email, webhook; did you mean "slack"\?/ },
  { what: "an unknown severity", set: { alertReceivers: [slack({ severities: ["critical"] })] }, key: "alertReceivers[0].severities[0]", says: /allowed: page, ticket, watchdog/ },
  { what: "no severities", set: { alertReceivers: [slack({ severities: [] })] }, key: "alertReceivers[0].severities", says: /non-empty list of page, ticket, watchdog/ },
  { what: "a Slack receiver without channel", set: { alertReceivers: [slack({ channel: undefined })] }, key: "alertReceivers[0].channel", says: /is required for slack receivers/ },
  { what: "an invalid Slack channel", set: { alertReceivers: [slack({ channel: "Alerts!" })] }, key: "alertReceivers[0].channel", says: /not a Slack channel name: lower-case letters/ },
  { what: "no receiver for tickets", set: { alertReceivers: [slack({ severities: ["page"] })] }, key: "alertReceivers", says: /no receiver takes severity "ticket"/ },
  { what: "two receivers with one name", set: { alertReceivers: [slack(), slack({ severities: ["ticket"] })] }, key: "alertReceivers[].name", says: /more than once/ },
  { what: "an email receiver without address", set: { alertReceivers: [slack(), email({ to: "oncall" })] }, key: "alertReceivers[1].to", says: /must be an email address/ },
  { what: "a smarthost without port", set: { alertReceivers: [slack(), email({ smarthost: "smtp.example.com" })] }, key: "alertReceivers[1].smarthost", says: /host:port/ },
  { what: "a smarthost port over 65535", set: { alertReceivers: [slack(), email({ smarthost: "smtp.example.com:70000" })] }, key: "alertReceivers[1].smarthost", says: /allowed: 1 to 65535/ },
  { what: "a smarthost port 0", set: { alertReceivers: [slack(), email({ smarthost: "smtp.example.com:0" })] }, key: "alertReceivers[1].smarthost", says: /allowed: 1 to 65535/ },
  { what: "a numeric SMTP user", set: { alertReceivers: [slack(), email({ authUsername: 12345 })] }, key: "alertReceivers[1].authUsername", says: /non-empty string \(quote it in YAML\)/ },
  { what: "an SMTP user on a Slack receiver", set: { alertReceivers: [slack({ authUsername: "me" })] }, key: "alertReceivers[0].authUsername", says: /only used by email receivers/ },
  { what: "a Slack receiver without its webhook", secrets: { alertReceiverSecrets: undefined }, key: "alertReceiverSecrets.team-slack", says: /missing required secret for slack receiver/, noRender: true },
  { what: "a Slack webhook that is not one", secrets: { alertReceiverSecrets: { "team-slack": "https://example.com/hook" } }, key: "alertReceiverSecrets.team-slack", says: /Slack incoming-webhook URL/, noRender: true },
  { what: "a PagerDuty key of the wrong length", set: { alertReceivers: [slack(), { name: "pd", type: "pagerduty", severities: ["page"] }] }, secrets: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x", pd: "short" } }, key: "alertReceiverSecrets.pd", says: /32-character PagerDuty/, noRender: true },
  { what: "a webhook over plain http", set: { alertReceivers: [slack(), { name: "hook", type: "webhook", severities: ["watchdog"] }] }, secrets: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x", hook: "http://example.com" } }, key: "alertReceiverSecrets.hook", says: /https:\/\/ URL/, noRender: true },
  { what: "a secret for a receiver that does not exist", secrets: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x", "old-team": "https://hooks.slack.com/services/T/B/y" } }, key: "alertReceiverSecrets.old-team", says: /names no receiver/, noRender: true },
  { what: "receiver secrets in plain text", secrets: { alertReceiverSecrets: undefined }, set: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x" } }, key: "alertReceiverSecrets", says: /plain text/, noRender: true },
  { what: "the SMTP password also given as SMTP user", set: { alertReceivers: [slack(), email({ authUsername: "smtp-secret-123" })] }, secrets: { alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/T/B/x", "team-email": "smtp-secret-123" } }, key: "alertReceivers", says: /contains the value of the secret monitoring-hosts:alertReceiverSecrets \(value not shown\)/, noRender: true },
  { what: "the Grafana password pasted into a tag", secrets: { grafanaAdminPassword: "correct-horse-battery" }, set: { tags: { note: "correct-horse-battery" } }, key: "tags", says: /contains the value of the secret monitoring-hosts:grafanaAdminPassword/, noRender: true },
  // runbook URL
  { what: "a runbook URL with a trailing slash", set: { runbookBaseUrl: "https://wiki.example.com/runbooks/" }, key: "runbookBaseUrl", says: /without a trailing slash/ },
  { what: "a runbook URL that is not http", set: { runbookBaseUrl: "ftp://wiki.example.com/runbooks" }, key: "runbookBaseUrl", says: /http\(s\) URL/ },
  { what: "a template in the runbook URL", set: { runbookBaseUrl: "https://wiki.example.com/{{.Labels.team}}" }, key: "runbookBaseUrl", says: /contains "\{\{", which Prometheus reads as the start of a template/ },
  { what: "a runbook URL too long for the host alarms", set: { runbookBaseUrl: `https://wiki.example.com/${"r".repeat(1000)}` }, key: "runbookBaseUrl", says: /over CloudWatch's 1024; use a URL of at most \d+ characters/ },
  // tags
  { what: "more tags than AWS allows", set: { tags: Object.fromEntries(many(45, (i) => [`tag${i}`, "x"])) }, key: "tags", says: /has 45 tags; at most 44/ },
  { what: "overriding the Name tag", set: { tags: { Name: "mine" } }, key: "tags.Name", says: /set by the program itself/ },
  // remoteWrite (docs/remote-write.md)
  { what: "remoteWrite given as a bare string", set: { remoteWrite: "create" }, key: "remoteWrite", says: /allowed: an object \{ workspace: create \}/ },
  { what: "remoteWrite without a workspace", set: { remoteWrite: {} }, key: "remoteWrite.workspace", says: /is required; allowed: create, or the id of an existing AMP workspace/ },
  { what: "a typo in remoteWrite's key", set: { remoteWrite: { workspce: "create" } }, key: "remoteWrite.workspce", says: /unknown key; allowed: workspace; did you mean "workspace"\?/ },
  { what: "an AMP workspace ARN where its id belongs", set: { remoteWrite: { workspace: "arn:aws:aps:eu-west-1:123456789012:workspace/ws-1" } }, key: "remoteWrite.workspace", says: /allowed: create, or an AMP workspace id/ },
  // releaseDigests (docs/configuration.md): digests for the archives config/release-manifest.ts cannot pin
  ...(ARM64_UNPINNED.length > 0
    ? [
        { what: "an arm64 stack without the digests config/release-manifest.ts lacks", set: { instanceType: "t4g.large", architecture: "arm64" }, key: "releaseDigests", says: new RegExp(`has no digest for ${ARM64_UNPINNED[0].key.replace(/\./g, "\\.")}.*pulumi config set --path 'releaseDigests`) },
        { what: "prd moved to Graviton without the digests", stack: "prd" as const, set: { instanceType: "m7g.xlarge", architecture: "arm64" }, key: "releaseDigests", says: /the host installs nothing unverified/ },
      ]
    : []),
  { what: "a release digest that is not 64 hex digits", set: { releaseDigests: { [releaseDigestKey("loki", "arm64")]: "sha256:abc" } }, key: `releaseDigests["${releaseDigestKey("loki", "arm64")}"]`, says: /is not a SHA-256 digest; allowed: 64 hexadecimal digits/ },
  { what: "a release digest contradicting the pinned one", set: { releaseDigests: { [releaseDigestKey("prometheus", "x86_64")]: "0".repeat(64) } }, key: `releaseDigests["${releaseDigestKey("prometheus", "x86_64")}"]`, says: /contradicts the digest config\/release-manifest\.ts pins/ },
  { what: "a release digest for another version", set: { releaseDigests: { "tempo@0.0.1/arm64": "ab".repeat(32) } }, key: 'releaseDigests["tempo@0.0.1/arm64"]', says: /but this program installs tempo .*set "tempo@/ },
  { what: "a release digest for a misspelt component", set: { releaseDigests: { [releaseDigestKey("grafana", "arm64").replace("grafana", "grafna")]: "ab".repeat(32) } }, key: `releaseDigests["${releaseDigestKey("grafana", "arm64").replace("grafana", "grafna")}"]`, says: /unknown entry.*did you mean "grafana@/ },
  { what: "a release digest keyed by the archive's amd64", set: { releaseDigests: { [releaseDigestKey("otelcol", "x86_64").replace("x86_64", "amd64")]: "ab".repeat(32) } }, key: `releaseDigests["${releaseDigestKey("otelcol", "x86_64").replace("x86_64", "amd64")}"]`, says: /names architecture "amd64".*\/x86_64"/ },
  { what: "releaseDigests as a list", set: { releaseDigests: ["ab".repeat(32)] }, key: "releaseDigests", says: /allowed: an object of "<component>@<version>\/<architecture>" to SHA-256/ },
  { what: "an AMP workspace id with a slash", set: { remoteWrite: { workspace: "ws-1/api" } }, key: "remoteWrite.workspace", says: /1 to 64 letters, digits, - \. _/ },
  { what: "overriding managed-by", set: { tags: { "managed-by": "terraform" } }, key: "tags.managed-by", says: /set by the program itself/ },
  { what: "a tag in the program's prefix", set: { tags: { "monitoring-hosts:backup": "no" } }, key: "tags.monitoring-hosts:backup", says: /keys starting with monitoring-hosts:/ },
  { what: "an aws: tag", set: { tags: { "AWS:owner": "me" } }, key: "tags.AWS:owner", says: /AWS reserves/ },
  { what: "a tag value with characters AWS refuses", set: { tags: { owner: "a<b>" } }, key: "tags.owner", says: /not a valid tag value: .*\+ - = \. _ : \/ @/ },
  { what: "a tag key with characters AWS refuses", set: { tags: { "cost#center": "1" } }, key: "tags.cost#center", says: /not a valid tag key/ },
  { what: "a tag key too long", set: { tags: { ["k".repeat(129)]: "1" } }, key: `tags.${"k".repeat(129)}`, says: /1 to 128 characters/ },
  { what: "a tag value too long", set: { tags: { owner: "v".repeat(257) } }, key: "tags.owner", says: /at most 256 characters/ },
  { what: "a numeric tag value", set: { tags: { costCenter: 4711 } }, key: "tags.costCenter", says: /must be a string \(quote numbers/ },
  { what: "tags as a list", set: { tags: ["owner=me"] }, key: "tags", says: /must be an object of tag name to value/ },
  // appScrapeTargets
  { what: "an app named like a stack job", set: { appScrapeTargets: [app({ service: "prometheus" })] }, key: "appScrapeTargets[0].service", says: /scrape job of the monitoring stack itself; reserved: prometheus/ },
  { what: "an app named node", set: { appScrapeTargets: [app({ service: "node" })] }, key: "appScrapeTargets[0].service", says: /reserved/ },
  { what: "a scrape target without port", set: { appScrapeTargets: [app({ targets: ["10.0.1.5"] })] }, key: "appScrapeTargets[0].targets[0]", says: /host:port/ },
  { what: "a scrape target port over 65535", set: { appScrapeTargets: [app({ targets: ["10.0.1.5:99999"] })] }, key: "appScrapeTargets[0].targets[0]", says: /host:port/ },
  { what: "a scrape target URL", set: { appScrapeTargets: [app({ targets: ["http://10.0.1.5:9464/metrics"] })] }, key: "appScrapeTargets[0].targets[0]", says: /host:port/ },
  { what: "a metrics path without slash", set: { appScrapeTargets: [app({ metricsPath: "metrics" })] }, key: "appScrapeTargets[0].metricsPath", says: /starting with \// },
  { what: "an unknown scheme", set: { appScrapeTargets: [app({ scheme: "grpc" })] }, key: "appScrapeTargets[0].scheme", says: /allowed: http, https/ },
  { what: "a misspelt targets field", set: { appScrapeTargets: [{ service: "shop-api", target: ["10.0.1.5:9464"] }] }, key: "appScrapeTargets[0].target", says: /did you mean "targets"\?/ },
  { what: "an app listed twice", set: { appScrapeTargets: [app(), app()] }, key: "appScrapeTargets[].service", says: /more than once/ },
  { what: "more scrape ports than the outbound quota", set: { appScrapeTargets: many(60, (i) => app({ service: `app-${i}`, targets: [`10.0.1.5:${9000 + i}`] })) }, key: "appScrapeTargets", says: /61 outbound IPv4 security-group rules/ },
  // logAlerts
  { what: "a log alert with broken LogQL", set: { logAlerts: [{ name: "shop-errors", service: "shop-api", filter: '| detected_level=~"error', threshold: 5 }] }, key: "logAlerts[0].filter", says: /not valid LogQL \(syntax error at ⚠/ },
  { what: "a misspelt log alert field", set: { logAlerts: [{ name: "shop-errors", service: "shop-api", treshold: 5 }] }, key: "logAlerts[0].treshold", says: /did you mean "threshold"\?/ },
  { what: "a template in a log alert routing label", set: { logAlerts: [{ name: "shop-errors", service: "shop-api", threshold: 5, labels: { team: "{{ $labels.team }}" } }] }, key: "logAlerts[0].labels.team", says: /contains "\{\{"/ },
  { what: "turning off a log alert that is not a default", set: { logAlerts: [{ name: "shop-errors", enabled: false }] }, key: "logAlerts[0].enabled", says: /only turns off a built-in default/ },
  // slos
  { what: "SLO services whose names collide in file names", set: { slos: [latencySlo({ service: "shop.api" }), latencySlo({ name: "shop-latency-2", service: "shop-api" })] }, key: "slos[1].service", says: /both become "shop-api" in rule file and dashboard names/ },
  { what: "SLO services differing only in case", set: { slos: [latencySlo({ service: "Shop-API" }), latencySlo({ name: "b", service: "shop-api" })] }, key: "slos[1].service", says: /both become "shop-api"/ },
  { what: "a template in an SLO routing label", set: { slos: [latencySlo({ alerting: { labels: { team: "{{ $labels.team }}" } } })] }, key: "slos[0].alerting.labels.team", says: /contains "\{\{"/ },
  { what: "a template in an SLO description", set: { slos: [latencySlo({ description: "p99 of {{ $labels.route }}" })] }, key: "slos[0].description", says: /contains "\{\{"/ },
  { what: "a template in an SLO route", set: { slos: [latencySlo({ selector: { route: "/orders/{{id}}", method: "POST" } })] }, key: "slos[0].selector.route", says: /contains "\{\{"/ },
  { what: "a misspelt SLO kind", set: { slos: [latencySlo({ kind: "latncy" })] }, key: "slos[0].kind", says: /allowed: latency, availability, saturation; did you mean "latency"\?/ },
  { what: "a misspelt SLO field", set: { slos: [latencySlo({ objectve: 99 })] }, key: "slos[0].objectve", says: /did you mean "objective"\?/ },
  { what: "an SLO objective as a fraction", set: { slos: [latencySlo({ objective: 0.99 })] }, key: "slos[0].objective", says: /write the objective in percent/ },
  { what: "an SLO objective of 100", set: { slos: [latencySlo({ objective: 100 })] }, key: "slos[0].objective", says: /allowed: 50 to 99\.99/ },
  { what: "an SLO window too short", set: { slos: [latencySlo({ window: "2d" })] }, key: "slos[0].window", says: /from 7d to 90d/ },
  { what: "a latency threshold that is no bucket boundary", set: { slos: [latencySlo({ threshold: "400ms" })] }, key: "slos[0].threshold", says: /not a bucket boundary/ },
  { what: "a reserved SLO label", set: { slos: [latencySlo({ alerting: { labels: { severity: "high" } } })] }, key: "slos[0].alerting.labels.severity", says: /set by the SLO generator itself/ },
  { what: "a lower-case HTTP method", set: { slos: [latencySlo({ selector: { route: "/orders", method: "post" } })] }, key: "slos[0].selector.method", says: /allowed: GET/ },
  { what: "a saturation threshold in percent", set: { slos: [{ name: "db", service: "shop-api", kind: "saturation", threshold: 90 }] }, key: "slos[0].threshold", says: /between 0 and 1/ },
  { what: "two SLOs with one name", set: { slos: [latencySlo(), latencySlo()] }, key: "slos[1].name", says: /SLO names must be unique/ },
  // operations
  { what: "snapshots kept 0 days", set: { snapshotRetentionDays: 0 }, key: "snapshotRetentionDays", says: /allowed: 1 to 365/ },
  { what: "snapshots kept too long", set: { snapshotRetentionDays: 400 }, key: "snapshotRetentionDays", says: /allowed: 1 to 365/ },
  { what: "snapshots kept 3 days in prd", stack: "prd", set: { snapshotRetentionDays: 3 }, key: "snapshotRetentionDays", says: /allowed: 7 to 365/ },
  { what: "snapshot retention with a unit", set: { snapshotRetentionDays: "7d" }, key: "snapshotRetentionDays", says: /whole number from 1 to 365/ },
  { what: "a host alarm address that is not one", set: { hostAlarmEmails: ["oncall"] }, key: "hostAlarmEmails[0]", says: /must be an email address/ },
  { what: "prd with nobody to hear the host die", stack: "prd", set: { hostAlarmEmails: [] }, key: "hostAlarmEmails", says: /nobody would hear/ },
  { what: "a pager URL over http", secrets: { hostAlarmPagerUrl: "http://events.example.com/x" }, key: "hostAlarmPagerUrl", says: /https:\/\/ URL/, noRender: true },
  { what: "verifyDeploy yes", set: { verifyDeploy: "yes" }, key: "verifyDeploy", says: /must be true or false/ },
];

/** The stack's source as `pulumi up` would read it: the committed stack file, the row's values and secrets. */
function sourceOf(c: BadConfig): FileConfigSource {
  const secrets: Record<string, unknown> = { ...(TEST_SECRETS[c.stack ?? "dev"] ?? {}) };
  for (const [key, value] of Object.entries(c.secrets ?? {})) {
    if (value === undefined) delete secrets[key];
    else secrets[key] = value;
  }
  return new FileConfigSource(c.stack ?? "dev", undefined, c.set ?? {}, secrets);
}

/** The stack file a user would have written for the row (plain values only), in a directory of its own. */
function writeStackDir(c: BadConfig, root: string, i: number): string {
  const stack = c.stack ?? "dev";
  const dir = path.join(root, String(i));
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8"));
  for (const [key, value] of Object.entries(c.set ?? {})) {
    if (value === undefined) delete doc.config[K(key)];
    else doc.config[K(key)] = value;
  }
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), YAML.stringify(doc));
  return dir;
}

function assertNamesKey(c: BadConfig, problems: { key: string; message: string }[], where: string): void {
  const hit = problems.find((p) => p.key === K(c.key));
  assert.ok(hit, `${where}: no problem for ${K(c.key)}; got ${JSON.stringify(problems)}`);
  assert.match(hit.message, c.says, `${where}: ${K(c.key)}`);
}

describe(`${CASES.length} bad configurations: refused before any resource, naming the key and what is allowed`, () => {
  let renderRoot: string;
  const program = require.resolve("../index");
  before(() => {
    renderRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bad-configs-"));
  });
  after(() => {
    fs.rmSync(renderRoot, { recursive: true, force: true });
    pulumi.runtime.setAllConfig({}, []);
    delete require.cache[program];
  });

  it("holds at least 100 distinct cases", () => {
    assert.ok(CASES.length >= 100, `${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c.what)).size, CASES.length);
  });

  it("control: the same harness with the committed dev config registers resources (so a count of 0 means something)", async () => {
    const { config, secretKeys } = sourceOf({ what: "none", key: "", says: /./ }).engineConfig();
    pulumi.runtime.setAllConfig(config, secretKeys);
    const before = resources.length;
    delete require.cache[program];
    const exported = require(program) as { instanceId: pulumi.Output<string> };
    await new Promise((resolve) => exported.instanceId.apply(resolve));
    await settle();
    assert.ok(resources.length - before > 20, `${resources.length - before} resources`);
  });

  CASES.forEach((c, i) => {
    it(`${c.what} → ${K(c.key)}`, async () => {
      // 1. The loader: one ConfigError listing the problem by key.
      let loaderError: unknown;
      try {
        loadStackConfig(sourceOf(c));
      } catch (e) {
        loaderError = e;
      }
      assert.ok(loaderError instanceof ConfigError, `the loader accepted the config or threw something else: ${loaderError}`);
      assertNamesKey(c, loaderError.problems, "loader");

      // 2. The program (index.ts) under the shared mocks, with the config the engine would pass.
      const { config, secretKeys } = sourceOf(c).engineConfig();
      pulumi.runtime.setAllConfig(config, secretKeys);
      const before = resources.length;
      delete require.cache[program];
      let programError: unknown;
      try {
        require(program);
      } catch (e) {
        programError = e;
      }
      await settle();
      assert.equal(resources.length - before, 0, "no resource was registered");
      assert.ok(pulumi.RunError.isInstance(programError), `the program did not stop with a RunError (Pulumi prints those without a stack trace): ${programError}`);
      const message = (programError as Error).message;
      assert.ok(message.includes(`${K(c.key)}: `), `the program's error does not name ${K(c.key)}:\n${message}`);
      assert.ok(!/\n\s+at /.test(message), "no stack frames in the message");

      // 3. The offline render of a stack file holding the row's values.
      if (!c.noRender) {
        let renderError: unknown;
        try {
          renderStack(c.stack ?? "dev", writeStackDir(c, renderRoot, i));
        } catch (e) {
          renderError = e;
        }
        assert.ok(renderError instanceof ConfigError, `render accepted the config or threw something else: ${renderError}`);
        assertNamesKey(c, renderError.problems, "render");
      }
    });
  });
});

describe("what the '{{' rule guards against, on real promtool", () => {
  it("a runbook URL or SLO label with a stray '{{' makes Prometheus refuse the rule file; the loader refuses both first", function () {
    requireTool(this, "promtool");
    const base = stackConfig("dev");
    const slo = { ...base.slos[0], alerting: { ...base.slos[0].alerting, labels: { team: "{{ shop" } } };
    const cfg = { ...base, runbookBaseUrl: "https://wiki.example.com/{{team}}", slos: [slo] };
    const { dir, cleanup } = tempDir("bad-template-");
    try {
      const files = sloRuleFiles(cfg, buildSloModels(cfg));
      for (const f of files) fs.writeFileSync(path.join(dir, path.basename(f.path)), f.content);
      const r = run("promtool", ["check", "rules", ...files.map((f) => path.join(dir, path.basename(f.path)))]);
      assert.notEqual(r.status, 0, "promtool accepted the rule file");
      assert.match(r.stdout + r.stderr, /template/i);
      // The same files from the committed config load.
      const good = sloRuleFiles(base, buildSloModels(base));
      for (const f of good) fs.writeFileSync(path.join(dir, path.basename(f.path)), f.content);
      assert.equal(run("promtool", ["check", "rules", ...good.map((f) => path.join(dir, path.basename(f.path)))]).status, 0);
    } finally {
      cleanup();
    }
    assert.throws(
      () => stackConfig("dev", { runbookBaseUrl: cfg.runbookBaseUrl, slos: [{ ...latencySlo(), alerting: { labels: { team: "{{ shop" } } }] }),
      (e: ConfigError) => ["runbookBaseUrl", "slos[0].alerting.labels.team"].every((k) => e.problems.some((p) => p.key === K(k))),
    );
  });
});
