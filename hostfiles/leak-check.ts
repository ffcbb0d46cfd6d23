/**
 * Defence in depth for every rendered artefact (bundle, user data): none may contain a secret value. Apart from the
 * renderers so that user data, which needs only this check, does not load them (rules/, dashboards/).
 */
import { SecretValue } from "../config/secret-value";
import type { StackConfig } from "../config/stack-config";

/**
 * Every secret value readable in this config; a rendered artefact containing one is a leak. Found by walking the
 * config for SecretValue objects, so a secret added to the config later is covered without a change here.
 */
export function readableSecretValues(cfg: StackConfig): string[] {
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof SecretValue) {
      if (v.readable && v.reveal().length >= 8) found.push(v.reveal());
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(cfg);
  return found;
}

/** Defence in depth: refuses to emit an artefact that contains a secret value, without printing it. */
export function assertNoSecrets(cfg: StackConfig, text: string, what: string): void {
  if (readableSecretValues(cfg).some((v) => text.includes(v))) {
    throw new Error(`${what} would contain a secret value; secrets must only be referenced by file path`);
  }
}
