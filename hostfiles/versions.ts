/**
 * The release archives of config/release-manifest.ts resolved for one host: per component the archive of the stack's
 * architecture, its URL, what to install from it, and the SHA-256 the host checks it against (the manifest's, else
 * the stack's `releaseDigests`). The bundle carries them (`versions`) and so does versions.tsv, which the host's
 * sync and apply scripts read (templates/host/monitoring-sync.sh, monitoring-apply.sh).
 */
import type { Architecture } from "../config/stack-config";
import { COMPONENTS, OperatorDigests, RELEASE_ARCH, releaseDigestKey } from "../config/release-manifest";
import { SERVICE_UNITS, ServiceName } from "../layout/host-layout";

/** One component resolved for one architecture: what the host's scripts read (bundle `versions`, versions.tsv). */
export interface ResolvedComponent {
  name: ServiceName;
  version: string;
  unit: string;
  artifact: string;
  url: string;
  /** The SHA-256 the host checks the archive against: the manifest's, else the operator's; null when neither has one. */
  sha256: string | null;
  /** Where `sha256` comes from: this manifest (with its public sources) or the stack's `releaseDigests`. */
  pinnedBy: "config/release-manifest.ts" | "releaseDigests" | null;
  archive: "tar.gz" | "zip";
  /** `member=dest` pairs, or `tree:<dir>=<dest>`; comma-separated in versions.tsv. */
  install: string[];
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
    const spec = c.install(arch);
    const install =
      "tree" in spec ? [`tree:${spec.tree.from}=${spec.tree.to}`] : Object.entries(spec.binaries).map(([from, to]) => `${from}=${to}`);
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
      install,
    };
  });
}

/**
 * versions.tsv: one tab-separated line per component, read by the host scripts with `read -r` (no JSON parser):
 * name, version, unit, artifact, url, sha256 (`-` when none is pinned), archive type, install spec.
 */
export function versionsTsv(architecture: Architecture, operatorDigests: OperatorDigests = {}): string {
  const rows = resolveComponents(architecture, operatorDigests).map((c) =>
    [c.name, c.version, c.unit, c.artifact, c.url, c.sha256 ?? "-", c.archive, c.install.join(",")].join("\t"),
  );
  for (const row of rows) {
    if (/[\s'"\\$`]/.test(row.replace(/\t/g, ""))) throw new Error(`versions.tsv row has characters the host scripts do not expect: ${row}`);
  }
  return `${rows.join("\n")}\n`;
}
