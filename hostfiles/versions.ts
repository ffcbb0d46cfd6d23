/**
 * The release archives of config/release-manifest.ts resolved for one host: per component the archive of the stack's
 * architecture, its URL, what to install from it, and the SHA-256 the host checks it against (the manifest's, else
 * the stack's `releaseDigests`). The bundle carries them (`versions`), which the host's sync and apply scripts read
 * with jq (host-agent/monitoring-sync.sh, monitoring-apply.sh).
 */
import type { Architecture } from "../config/stack-config";
import { Component, COMPONENTS, OperatorDigests, RELEASE_ARCH, releaseDigestKey } from "../config/release-manifest";
import { SERVICE_UNITS, ServiceName } from "../layout/host-layout";

/** One component resolved for one architecture: the bundle's `versions` entry, read by the host's scripts with jq. */
export interface ResolvedComponent {
  name: ServiceName;
  version: string;
  unit: string;
  artifact: string;
  url: string;
  /** The SHA-256 the host checks the archive against: the manifest's, else the operator's; null when neither has one. */
  sha256: string | null;
  /** Where `sha256` comes from: the manifest (with its public sources) or the stack's `releaseDigests`. */
  pinnedBy: "config/release-manifest.ts" | "releaseDigests" | null;
  archive: "tar.gz" | "zip";
  /** What to install from the unpacked archive (Component.install for this architecture). */
  install: ReturnType<Component["install"]>;
}

/**
 * The components for an architecture, each with the digest the host verifies. The manifest's digest wins; an
 * operator digest fills only a gap (the config loader refuses one that contradicts the manifest).
 */
export function resolveComponents(architecture: Architecture, operatorDigests: OperatorDigests = {}): ResolvedComponent[] {
  const arch = RELEASE_ARCH[architecture];
  return (Object.keys(COMPONENTS) as ServiceName[]).map((name) => {
    const c = COMPONENTS[name];
    const base = c.baseUrl();
    const pinned = c.digests[arch].sha256;
    const operator = operatorDigests[releaseDigestKey(name, architecture)];
    return {
      name,
      version: c.version,
      unit: SERVICE_UNITS[name],
      artifact: c.artifact(arch),
      url: `${base}/${c.artifact(arch)}`,
      sha256: pinned ?? operator ?? null,
      pinnedBy: pinned !== null ? "config/release-manifest.ts" : operator !== undefined ? "releaseDigests" : null,
      archive: c.archive,
      install: c.install(arch),
    };
  });
}
