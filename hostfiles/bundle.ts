/**
 * The config bundle: one JSON document with every file that goes onto the host (besides user data), the pinned
 * versions and the secrets manifest (parameter names only). Pulumi uploads it to S3; the host's sync step polls
 * its ETag. Deterministic: the same config renders the same bytes, so an unchanged config keeps the same ETag.
 */
import { type StackConfig } from "../config/stack-config";
import { renderHostFiles } from "./host-files";
import { secretFiles } from "./secrets";
import type { BundleContext, HostFile } from "../layout/host-file";
import { assertNoSecrets } from "./leak-check";
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

export function buildBundle(cfg: StackConfig, ctx: BundleContext): Bundle {
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

export function renderBundle(cfg: StackConfig, ctx: BundleContext): string {
  return bundleJson(cfg, buildBundle(cfg, ctx));
}

/** The bundle as uploaded; for a caller that also needs the built bundle's files (it builds it once). */
export function bundleJson(cfg: StackConfig, bundle: Bundle): string {
  const text = `${JSON.stringify(bundle, null, 1)}\n`;
  assertNoSecrets(cfg, text, "config bundle");
  return text;
}
