/**
 * Checks that look at several keys, or at all of them, once each section has been read: unknown keys, a secret's
 * value repeated under a plain key, and the security group's rule count against AWS's quota.
 */
import type { ConfigSource } from "./config-source";
import { type ConfigProblems, didYouMean, hasInvisible } from "./config-problems";
import { SECURITY_GROUP_RULE_QUOTA } from "./limits";
import { egressRules, ingressRules, pairRulesForQuota } from "./network-rules";
import type { StackConfig } from "./stack-config";

/** Every key of the program's namespace that is not in `knownKeys`, with the key it was most likely meant to be. */
export function reportUnknownKeys(source: ConfigSource, p: ConfigProblems, knownKeys: readonly string[]): void {
  const k = (key: string) => `${source.project}:${key}`;
  for (const full of source.keys()) {
    const [ns, key] = splitKey(full);
    if (ns === source.project && !knownKeys.includes(key)) {
      const invisible = hasInvisible(key) ? "; it contains an invisible character (shown escaped)" : "";
      p.add(full, `unknown key${invisible}${didYouMean(key, knownKeys, k)} (docs/configuration.md lists the keys)`);
    }
  }
}

function splitKey(full: string): [string, string] {
  const i = full.indexOf(":");
  return i < 0 ? ["", full] : [full.slice(0, i), full.slice(i + 1)];
}

/** Shortest secret value looked for elsewhere (hostfiles/bundle.ts refuses artefacts containing one of this length). */
const SECRET_MIN_MATCH = 8;

/**
 * A secret's value written again under a plain key (an SMTP password also given as authUsername, a webhook URL also
 * in runbookBaseUrl) would end up in the config bundle; the bundle renderer refuses that, but only after resources
 * exist. Found here instead, naming the plain key and the secret key, never the value.
 */
export function reportSecretsInPlainKeys(source: ConfigSource, p: ConfigProblems): void {
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

/** The security group's inbound and outbound rules (config/network-rules.ts), counted against the quota. */
export function reportSecurityGroupQuota(
  p: ConfigProblems,
  k: (key: string) => string,
  counted: Pick<StackConfig, "otlp" | "access" | "alerting" | "appScrapeTargets" | "hosts">,
): void {
  const mode = counted.access.mode;
  // A pair's host group also holds the rules between the hosts and from the load balancer.
  const pair = pairRulesForQuota(counted);
  reportRuleQuota(p, "inbound", [...ingressRules(counted), ...pair.inbound], mode === "ssh" ? [k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds"), k("sshAdminCidrs")] : [k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds")]);
  reportRuleQuota(p, "outbound", [...egressRules(counted), ...pair.outbound], [k("appScrapeTargets"), k("otlpAllowedCidrs"), k("otlpAllowedSecurityGroupIds")]);
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
