/**
 * Stack configs for tests: the committed Pulumi.<stack>.yaml plus test-only secrets. The secret values are
 * sentinels, so a test can prove they never leak into user data, rendered files or outputs. They are derived from
 * the receivers the stack file declares (one secret of the right shape per receiver that needs one), so a stack
 * with more receivers than the demo (a second team) loads without editing this file.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { FileConfigSource } from "../../config/config-source";
import { loadStackConfig } from "../../config/loader";
import { Architecture, StackConfig } from "../../config/stack-config";
import { unpinnedReleases } from "../../config/release-manifest";

/** Appears nowhere but in secret config; any occurrence elsewhere is a leak. */
export const SENTINEL = "SENTINEL-9f3b2c7d-do-not-leak";

const REPO = path.resolve(__dirname, "..", "..");

/** A sentinel secret of the shape the loader demands for a receiver type (PagerDuty keys are 32 alphanumerics). */
export function receiverTestSecret(type: string, name: string): string | undefined {
  switch (type) {
    case "pagerduty":
      return "S3NT1NEL" + createKey(name);
    case "slack":
      return `https://hooks.slack.com/services/T000/B000/${SENTINEL}-${name}`;
    case "webhook":
      return `https://hooks.example.com/${SENTINEL}-${name}`;
    case "email":
      return `${SENTINEL}-smtp-${name}`;
    default:
      return undefined;
  }
}

/** 24 alphanumerics from a name (the rest of a 32-character PagerDuty routing key). */
function createKey(name: string): string {
  return (name.replace(/[^A-Za-z0-9]/g, "") + "X".repeat(24)).slice(0, 24);
}

/** The test secrets of a receiver list: every receiver that needs a secret gets a sentinel. */
export function receiverSecrets(receivers: { name: string; type: string; authUsername?: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of receivers) {
    if (r.type === "email" && !r.authUsername) continue;
    const s = receiverTestSecret(r.type, r.name);
    if (s) out[r.name] = s;
  }
  return out;
}

function stackReceivers(stack: string): { name: string; type: string; authUsername?: string }[] {
  const file = path.join(REPO, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return [];
  const doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  return (doc.config?.["monitoring-hosts:alertReceivers"] as { name: string; type: string }[] | undefined) ?? [];
}

function testSecrets(stack: string): Record<string, unknown> {
  return { grafanaAdminPassword: `${SENTINEL}-grafana`, alertReceiverSecrets: receiverSecrets(stackReceivers(stack)) };
}

export const TEST_SECRETS: Record<string, Record<string, unknown>> = { dev: testSecrets("dev"), prd: testSecrets("prd") };

/** Every secret value a stack's tests use, for leak checks. */
export function secretValues(stack: string): string[] {
  const flat = (v: unknown): string[] =>
    typeof v === "string" ? [v] : v && typeof v === "object" ? Object.values(v).flatMap(flat) : [];
  return flat(TEST_SECRETS[stack]);
}

/** `secretOverrides` replace the test secrets of the same key (set as secrets, like `pulumi config set --secret`). */
export function stackSource(stack: string, overrides: Record<string, unknown> = {}, secretOverrides: Record<string, unknown> = {}): FileConfigSource {
  return new FileConfigSource(stack, undefined, overrides, { ...(TEST_SECRETS[stack] ?? {}), ...secretOverrides });
}

export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, secretOverrides: Record<string, unknown> = {}): StackConfig {
  return loadStackConfig(stackSource(stack, overrides, secretOverrides));
}

/** The config map (and secret keys) the Pulumi engine would pass to the program for `stack`, with test secrets. */
export function programConfig(stack: string, overrides: Record<string, unknown> = {}): { config: Record<string, string>; secretKeys: string[] } {
  return stackSource(stack, overrides).engineConfig();
}

/**
 * Stand-in digests for the archives config/release-manifest.ts pins none for on `architecture`, as an operator would set
 * them in `releaseDigests`: the SHA-256 of a label naming the archive, so they are well-formed and distinct, and
 * prove only that the program carries what the stack says (they are no claim about the real archives).
 */
export function standInReleaseDigests(architecture: Architecture): Record<string, string> {
  return Object.fromEntries(
    unpinnedReleases(architecture).map((u) => [u.key, createHash("sha256").update(`test stand-in for ${u.artifact}`).digest("hex")]),
  );
}

/** Overrides that move a stack to Graviton, with the stand-in digests an arm64 stack must carry (`releaseDigests`). */
export function arm64Overrides(instanceType: string): Record<string, unknown> {
  return { instanceType, architecture: "arm64", releaseDigests: standInReleaseDigests("arm64") };
}

/** The raw `slos` and `alertReceivers` of a committed stack file, as written. */
export function rawStackValue<T = unknown>(stack: string, key: string): T {
  const doc = YAML.parse(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return doc.config[`monitoring-hosts:${key}`] as T;
}

/**
 * A second service with its own team, added the way docs/configuration.md says: `billing-api` with a latency SLO
 * (POST /invoices p99 < 800 ms, 99.5 %) and an availability SLO, labelled `team: billing`, and a receiver that
 * takes the billing team's pages and tickets. The committed stack's own SLOs and receivers stay as they are.
 */
export const BILLING = {
  team: "billing",
  service: "billing-api",
  receiver: "billing-slack",
  slos: [
    {
      name: "billing-invoice-latency",
      service: "billing-api",
      kind: "latency",
      description: "99.5 % of POST /invoices requests complete within 800 ms",
      selector: { route: "/invoices", method: "POST" },
      objective: 99.5,
      threshold: "800ms",
      window: "28d",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 0.8, 1, 2.5, 5, 7.5, 10],
      alerting: { labels: { team: "billing" } },
    },
    {
      name: "billing-invoice-errors",
      service: "billing-api",
      kind: "availability",
      description: "99.5 % of POST /invoices requests do not fail with a 5xx",
      selector: { route: "/invoices", method: "POST" },
      objective: 99.5,
      window: "28d",
      alerting: { labels: { team: "billing" } },
    },
  ],
  receivers: [{ name: "billing-slack", type: "slack", channel: "#billing-alerts", severities: ["page", "ticket"], match: { team: "billing" } }],
} as const;

/** Config overrides and secrets that turn a committed stack into a two-service, two-team stack. */
export function twoTeamOverrides(stack: string): { overrides: Record<string, unknown>; secrets: Record<string, unknown> } {
  // A stack that already has the billing service (someone added it as the docs say) keeps its own entries.
  const named = <T>(list: T[]) => new Set(list.map((x) => (x as { name: string }).name));
  const ownReceivers = rawStackValue<{ name: string }[]>(stack, "alertReceivers");
  const ownSlos = rawStackValue<{ name: string }[]>(stack, "slos");
  const receivers = [...ownReceivers, ...BILLING.receivers.filter((r) => !named(ownReceivers).has(r.name))];
  return {
    overrides: { slos: [...ownSlos, ...BILLING.slos.filter((x) => !named(ownSlos).has(x.name))], alertReceivers: receivers },
    secrets: { alertReceiverSecrets: receiverSecrets(receivers as { name: string; type: string }[]) },
  };
}

export function twoTeamStackConfig(stack: string, extra: Record<string, unknown> = {}): StackConfig {
  const t = twoTeamOverrides(stack);
  return stackConfig(stack, { ...t.overrides, ...extra }, t.secrets);
}
