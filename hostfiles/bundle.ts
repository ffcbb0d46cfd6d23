/**
 * The config bundle: the one structured document the host reads (with jq, host-agent/*.sh). Every file that goes
 * onto the host besides user data, the pinned versions, the secrets (parameter names and versions, never values),
 * the health checks, the login users' groups and the apply step's settings. Pulumi uploads it to S3; the host's
 * sync step polls its ETag. Deterministic: the same config renders the same bytes, so an unchanged config keeps
 * the same ETag.
 */
import * as path from "path";
import { type StackConfig } from "../config/stack-config";
import { SECRETS_DIR } from "../layout/host-layout";
import { agentSettings, AgentSettings } from "./agent";
import { healthChecks, HealthCheck } from "./health-checks";
import { renderHostFiles } from "./host-files";
import { secretFiles } from "./secrets";
import { loginGroups, LoginGroup } from "./ssh-access";
import type { BundleContext, HostFile } from "../layout/host-file";
import { assertNoSecrets } from "./leak-check";
import { resolveComponents, ResolvedComponent } from "./versions";

/** 2: everything the host reads is in this JSON (1 carried tab-separated manifests among the files). */
export const BUNDLE_SCHEMA_VERSION = 2;

export interface BundleSecret {
  id: string;
  /** SSM parameter name, and its version (null: unknown offline; the host then reads the latest). */
  parameter: string;
  version: number | null;
  /** The unit that loads it as credential `credential`, at `path`. */
  unit: string;
  credential: string;
  path: string;
  /** Where monitoring-secrets writes it, relative to `host.secretsDir`. */
  file: string;
}

export interface Bundle {
  schemaVersion: typeof BUNDLE_SCHEMA_VERSION;
  project: string;
  stack: string;
  region: string;
  architecture: string;
  host: AgentSettings;
  versions: ResolvedComponent[];
  /** Which SSM parameter becomes which credential of which unit. No values. */
  secrets: BundleSecret[];
  healthChecks: HealthCheck[];
  loginGroups: LoginGroup[];
  files: HostFile[];
}

export function buildBundle(cfg: StackConfig, ctx: BundleContext): Bundle {
  const files = [...renderHostFiles(cfg, ctx)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const versions = ctx.secretVersions ?? {};
  return {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    project: cfg.project,
    stack: cfg.stack,
    region: cfg.region,
    architecture: cfg.architecture,
    host: agentSettings(cfg),
    versions: resolveComponents(cfg.architecture, cfg.releaseDigests),
    secrets: secretFiles(cfg).map((s) => ({
      id: s.id,
      parameter: s.parameter,
      version: versions[s.id] ?? null,
      unit: s.unit,
      credential: s.credential,
      path: s.path,
      file: path.posix.relative(SECRETS_DIR, s.sourcePath),
    })),
    healthChecks: healthChecks(),
    loginGroups: loginGroups(cfg),
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
