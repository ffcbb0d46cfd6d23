/** `releaseDigests`: the SHA-256 of release archives config/release-manifest.ts cannot pin, supplied by the operator. */
import { type ConfigProblems, didYouMean, hasInvisible, show } from "../config-problems";
import type { Reader } from "../reader";
import { COMPONENTS, RELEASE_ARCH, releaseDigestKey, unpinnedReleases } from "../release-manifest";
import { ARCHITECTURES, type Architecture } from "../stack-config";
import type { ServiceName } from "../../layout/host-layout";

/** Release-archive names of the architectures, as someone copying from a download page may write them. */
const ARCH_ALIASES = new Map<string, Architecture>([["amd64", "x86_64"], ["x64", "x86_64"], ["aarch64", "arm64"]]);

/**
 * `releaseDigests: { "<component>@<version>/<architecture>": <sha256> }`: digests for the release archives that
 * config/release-manifest.ts cannot pin (no record independent of the download was found). The stack's architecture must
 * have a digest for every archive it installs, from the manifest or from here; the manifest wins, and an entry that
 * contradicts it, names another version, or repeats another archive's digest is refused.
 */
export function readReleaseDigests(r: Reader, p: ConfigProblems, k: (key: string) => string, architecture: Architecture | undefined): Record<string, string> {
  const key = k("releaseDigests");
  const raw = r.raw("releaseDigests");
  const names = Object.keys(COMPONENTS) as ServiceName[];
  const valid = names.flatMap((n) => ARCHITECTURES.map((a) => releaseDigestKey(n, a)));
  const out: Record<string, string> = {};
  if (raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) {
    p.add(key, `${show(raw)} is not allowed; allowed: an object of "<component>@<version>/<architecture>" to SHA-256, like { ${JSON.stringify(valid[0])}: <64 hex digits> }`);
    return out;
  }
  // Every digest the manifest pins, to catch one copied from the wrong line of a checksum file.
  const manifest = new Map<string, string>();
  for (const n of names) for (const a of ARCHITECTURES) {
    const d = COMPONENTS[n].digests[RELEASE_ARCH[a]].sha256;
    if (d !== null) manifest.set(d, releaseDigestKey(n, a));
  }
  const seen = new Map<string, string>();
  for (const [entry, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    const at = `${key}["${entry}"]`;
    const m = /^([^@/]+)@([^/]+)\/(.+)$/.exec(entry);
    const name = m && (names as string[]).includes(m[1]) ? (m[1] as ServiceName) : undefined;
    const arch = m && (ARCHITECTURES as readonly string[]).includes(m[3]) ? (m[3] as Architecture) : undefined;
    if (!valid.includes(entry)) {
      const invisible = hasInvisible(entry) ? "; it contains an invisible character (shown escaped)" : "";
      const alias = m ? ARCH_ALIASES.get(m[3]) : undefined;
      p.add(
        at,
        alias
          ? `names architecture ${show(m![3])}, which the archives call it; here it is the stack's architecture: ${JSON.stringify(`${m![1]}@${m![2]}/${alias}`)}`
          : name && arch && m![2] !== COMPONENTS[name].version
          ? `names ${name} ${m![2]}, but this program installs ${name} ${COMPONENTS[name].version} (config/release-manifest.ts): a digest is for one archive; ` +
              `set ${JSON.stringify(releaseDigestKey(name, arch))} to the digest of ${COMPONENTS[name].artifact(RELEASE_ARCH[arch])} instead`
          : `unknown entry${invisible}; allowed: "<component>@<version>/<architecture>" with component ${names.join(", ")} at the version ` +
              `config/release-manifest.ts installs, and architecture ${ARCHITECTURES.join(" or ")}${didYouMean(entry, valid)}`,
      );
      continue;
    }
    if (typeof value !== "string" || !/^[0-9a-fA-F]{64}$/.test(value.trim())) {
      p.add(at, `${show(value)} is not a SHA-256 digest; allowed: 64 hexadecimal digits, as sha256sum prints them`);
      continue;
    }
    const digest = value.trim().toLowerCase();
    const c = COMPONENTS[name!];
    const pinned = c.digests[RELEASE_ARCH[arch!]].sha256;
    if (pinned !== null && pinned !== digest) {
      p.add(
        at,
        `${digest} contradicts the digest config/release-manifest.ts pins for ${c.artifact(RELEASE_ARCH[arch!])} (${pinned}, taken from public records independent of the download); ` +
          "the manifest's digest is the one the host checks: remove this entry, and if you believe the manifest is wrong, check both against the vendor's release page (docs/configuration.md)",
      );
      continue;
    }
    const other = seen.get(digest) ?? (manifest.get(digest) !== entry ? manifest.get(digest) : undefined);
    if (other !== undefined) {
      p.add(at, `${digest} is also the digest of ${other}: every archive has its own; copied from the wrong line of the checksum file?`);
      continue;
    }
    seen.set(digest, entry);
    out[entry] = digest;
  }
  if (architecture !== undefined) {
    const missing = unpinnedReleases(architecture).filter((u) => out[u.key] === undefined && !(u.key in ((raw ?? {}) as object)));
    if (missing.length > 0) {
      p.add(
        key,
        `has no digest for ${missing.map((u) => u.key).join(", ")}: config/release-manifest.ts pins none for ${missing.map((u) => u.artifact).join(", ")} ` +
          `(no public record independent of the download was found), and the host installs nothing unverified. Set each from the vendor's release page, ` +
          `e.g. pulumi config set --path 'releaseDigests["${missing[0].key}"]' <sha256> (docs/configuration.md, "releaseDigests", has the commands to obtain and cross-check it), ` +
          `or use an instance type of an architecture whose archives are all pinned (${ARCHITECTURES.filter((a) => unpinnedReleases(a).length === 0).join(", ") || "none"})`,
      );
    }
  }
  return out;
}
