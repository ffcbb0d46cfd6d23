/**
 * The config bundle: one JSON document with every file that goes onto the host (besides user data), the pinned
 * versions and the secrets manifest (parameter names only). Pulumi uploads it to S3; the host's sync step polls
 * its ETag. Deterministic: the same config renders the same bytes, so an unchanged config keeps the same ETag.
 */
import { SecretValue } from "../config/secret-value";
import { type StackConfig } from "../config/stack-config";
import { renderHostFiles } from "./host-files";
import { secretFiles } from "./secrets";
import type { HostContext, HostFile } from "../layout/host-file";
import { resolveComponents, ResolvedComponent } from "./versions";

export const BUNDLE_SCHEMA_VERSION = 1;

export interface Bundle {
  schemaVersion: typeof BUNDLE_SCHEMA_VERSION;
  project: string;
  stack: string;
  architecture: string;
  versions: ResolvedComponent[];
  /** Which SSM parameter becomes which credential of which unit. No values. */
  secrets: { id: string; parameter: string; unit: string; credential: string; path: string }[];
  files: HostFile[];
}

export function buildBundle(cfg: StackConfig, ctx: HostContext): Bundle {
  const files = [...renderHostFiles(cfg, ctx)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    project: cfg.project,
    stack: cfg.stack,
    architecture: cfg.architecture,
    versions: resolveComponents(cfg.architecture, cfg.releaseDigests),
    secrets: secretFiles(cfg).map(({ id, parameter, unit, credential, path }) => ({ id, parameter, unit, credential, path })),
    files,
  };
}

export function renderBundle(cfg: StackConfig, ctx: HostContext): string {
  const text = `${JSON.stringify(buildBundle(cfg, ctx), null, 1)}\n`;
  assertNoSecrets(cfg, text, "config bundle");
  return text;
}

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
