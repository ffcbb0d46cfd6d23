/**
 * Stack configs for tests: the committed Pulumi.<stack>.yaml plus test-only secrets. The secret values are
 * sentinels, so a test can prove they never leak into user data, rendered files or outputs.
 */
import { FileConfigSource } from "../../components/config-source";
import { loadStackConfig, StackConfig } from "../../components/config";

/** Appears nowhere but in secret config; any occurrence elsewhere is a leak. */
export const SENTINEL = "SENTINEL-9f3b2c7d-do-not-leak";

export const TEST_SECRETS: Record<string, Record<string, unknown>> = {
  dev: {
    grafanaAdminPassword: `${SENTINEL}-grafana`,
    alertReceiverSecrets: { "team-slack": `https://hooks.slack.com/services/T000/B000/${SENTINEL}` },
  },
  prd: {
    grafanaAdminPassword: `${SENTINEL}-grafana`,
    alertReceiverSecrets: {
      "oncall-pagerduty": "S3NT1NELS3NT1NELS3NT1NELS3NT1NEL",
      "team-slack": `https://hooks.slack.com/services/T000/B000/${SENTINEL}`,
      "team-email": `${SENTINEL}-smtp`,
    },
  },
};

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
