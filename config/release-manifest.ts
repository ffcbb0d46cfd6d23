/**
 * Every component version the host runs, pinned in one place, with where each release archive lives and the
 * SHA-256 of every archive per architecture. The host's sync step downloads the archive and refuses to install it
 * unless its SHA-256 equals the digest pinned here (host-agent/monitoring-sync.sh); the apply step checks it
 * again. The release's own checksum file is not consulted: it comes from the same origin as the archive, so it
 * catches corruption but not a tampered release.
 *
 * Each digest names the public records it was taken from (`sources`). Where no trustworthy record was found, the
 * entry is `sha256: null` with the reason. A stack whose architecture needs such an archive must then supply the
 * digest itself in `releaseDigests` (docs/configuration.md), which the operator obtains and cross-checks from the
 * vendor's release page; without it the config loader refuses the stack at preview, naming the key and the
 * archives, so nothing is ever installed on trust and nothing is left to fail on the host. To fill one in here:
 * take the digest from a record independent of the download (a package manager's pin, the GitHub release's asset
 * digest) and check it against the release's checksum file; record both here.
 *
 * Upgrading: change `version` and the digests here (GRAFANA_VERSION and GRAFANA_BUILD for Grafana), run
 * `npm run render -- <stack>` and `npm test`, then `pulumi up`: the bundle changes, the host downloads, verifies and
 * installs the new binary and restarts that one service. docs/host-bootstrap.md has the checklist.
 *
 * otelcol-contrib stays at 0.149.0 (from v0.158 the release ships one checksum file per artifact and cosign v3
 * bundles; nothing here depends on that any more, but the configs were checked against 0.149.0).
 */
import type { Architecture } from "./stack-config";
import { GRAFANA_HOME, ServiceName, SERVICES } from "../layout/host-layout";

/** Release-archive architecture names: every upstream here uses Go's GOARCH names. */
export const RELEASE_ARCH: Record<Architecture, "amd64" | "arm64"> = { x86_64: "amd64", arm64: "arm64" };

export type ReleaseArch = (typeof RELEASE_ARCH)[Architecture];

/**
 * The SHA-256 of one release archive, with the public records it was read from; or `null` with why none could be
 * pinned (the host refuses to install that archive).
 */
export type PinnedDigest = { sha256: string; sources: string[] } | { sha256: null; reason: string };

export interface Component {
  service: ServiceName;
  version: string;
  /** File name of the release archive for an architecture. */
  artifact(arch: string): string;
  /** Directory URL the archive is downloaded from. */
  baseUrl(): string;
  /** SHA-256 of `artifact(arch)` for each release architecture. */
  digests: Record<ReleaseArch, PinnedDigest>;
  archive: "tar.gz" | "zip";
  /**
   * What to install from the unpacked archive: `binaries` maps a path inside the archive to a host path; `tree`
   * installs a whole directory (Grafana needs its public/ and conf/ next to bin/); `from: "*"` is the archive's
   * single top-level directory.
   */
  install(arch: string): { binaries: Record<string, string> } | { tree: { from: string; to: string } };
}

const gh = (repo: string, tag: string) => `https://github.com/${repo}/releases/download/${tag}`;

/** Prometheus-project release layout: `<name>-<v>.linux-<arch>.tar.gz` with `sha256sums.txt` beside it. */
function prometheusProject(
  service: ServiceName,
  name: string,
  version: string,
  digests: Record<ReleaseArch, PinnedDigest>,
  extraBinaries: Record<string, string> = {},
): Component {
  const dir = (arch: string) => `${name}-${version}.linux-${arch}`;
  return {
    service,
    version,
    artifact: (arch) => `${dir(arch)}.tar.gz`,
    baseUrl: () => gh(`prometheus/${name}`, `v${version}`),
    digests,
    archive: "tar.gz",
    install: (arch) => ({
      binaries: {
        [`${dir(arch)}/${name}`]: SERVICES[service].bin,
        ...Object.fromEntries(Object.entries(extraBinaries).map(([member, to]) => [`${dir(arch)}/${member}`, to])),
      },
    }),
  };
}

/**
 * Where the digests below were read (2026-12-01). The archives themselves cannot be downloaded on the machines that
 * built this manifest, so each digest is one quoted in public records that name the exact archive URL; the
 * records are identified by their id in the public-code index searched (`find_string`), with what they are.
 * Where two independent records agree, both are listed.
 */
const RECORD = {
  stackPlan: "public install plan quoting each published artifact with its SHA-256 (\"the line for this archive in the release's sha256sums.txt, equal to the digest GitHub reports for the asset\"), index record 70071898927",
  toolPins: "public tool-pin table (tool, version, sha256, release URL), index record 70107481501",
  bazelPins: "public Bazel-style pin struct for promtool per platform (url, sha256), index record 70908151845",
  alertmanagerFormula: "public Homebrew-style formula for alertmanager 0.34.1 (url and sha256 per OS/arch), index record 69130216060",
  nodeExporterRunbook: "public install runbook checking the archive with `sha256sum -c`, index record 69723041667",
  nodeExporterBlog: "public blog post comparing `sha256sum` output with the download page, index record 59805352032",
  nodeExporterPiRun: "public Raspberry Pi runbook whose `sha256sum -c` passed on a real download (verified run 2026-09-18), index record 69435188512",
  lokiInstall: "public install script checking the archive with `sha256sum -c`, index record 71127193978",
  tempoInstall: "public install script checking the archive with `sha256sum -c`, index record 70946137640",
  otelcolFormula: "public Homebrew-style formula for otelcol-contrib 0.149.0 (url and sha256), index record 54134111362",
  otelcolCue: "public CUE tool manifest (url, sha256, extract_binary), index record 51772112174",
  grafanaPage: "grafana.com download page of 13.2.3 as quoted in a public install plan (wget URL and SHA256), index record 70071898927",
} as const;

/**
 * No independent record of this archive's digest was found (searched 2026-12-01, and again for the four arm64
 * archives the same day: the exact artifact name with its version in code, docs and pages, package-manager
 * formulas and tool-pin tables; every record found names the amd64 or darwin archives only). A stack on this
 * architecture supplies the digest in `releaseDigests`, or is refused at preview.
 */
const notFound = (archive: string): PinnedDigest => ({
  sha256: null,
  reason: `no public record of the SHA-256 of ${archive} independent of its download origin was found when this was pinned (2026-12-01)`,
});

export const GRAFANA_VERSION = "13.2.3";
/** CI build number in Grafana's archive names (since 12.1); the download page of the release shows it. */
export const GRAFANA_BUILD = "36482603486";

export const COMPONENTS: Record<ServiceName, Component> = {
  // promtool/amtool come along: on-call uses them on the host (`promtool check config`, `amtool silence`).
  prometheus: prometheusProject("prometheus", "prometheus", "3.15.0", {
    amd64: { sha256: "2a542df32eac02ee17b9d844fb2aa1de00dafa5476579ba8a3ba862e9d572ea0", sources: [RECORD.stackPlan, RECORD.toolPins, RECORD.bazelPins] },
    arm64: { sha256: "f1f90ec08e849d494ca66c611470afc50192f0355f1a61c33f2cbde02d067823", sources: [RECORD.bazelPins] },
  }, { promtool: "/usr/local/bin/promtool" }),
  alertmanager: prometheusProject("alertmanager", "alertmanager", "0.34.1", {
    amd64: { sha256: "265b9d1e55ef0d5306a436018af6d2b686c2ce051f03d968f7464ecb1372a7e8", sources: [RECORD.stackPlan, RECORD.toolPins, RECORD.alertmanagerFormula] },
    arm64: { sha256: "d98d6cbaf52151c7e76e24355fec88b11cebcb9875d4cdd8b76ddce7a7e5535c", sources: [RECORD.alertmanagerFormula] },
  }, { amtool: "/usr/local/bin/amtool" }),
  nodeExporter: prometheusProject("nodeExporter", "node_exporter", "1.12.1", {
    amd64: { sha256: "b51d8a76aa2a9156a55d501aca6276fae09e262259a5e4e831d2c2222f084e63", sources: [RECORD.nodeExporterRunbook, RECORD.nodeExporterBlog] },
    arm64: { sha256: "ad35b605f9954b9f1ffddf5ba054bdc5a98d790b9eae5291e1eeb83f1ecbd0e7", sources: [RECORD.nodeExporterPiRun] },
  }),
  grafana: {
    service: "grafana",
    version: GRAFANA_VERSION,
    artifact: (arch) => `grafana_${GRAFANA_VERSION}_${GRAFANA_BUILD}_linux_${arch}.tar.gz`,
    baseUrl: () => `https://dl.grafana.com/grafana/release/${GRAFANA_VERSION}`,
    digests: {
      amd64: { sha256: "6107ad27016296aac38e0d7ffa8753ab540b5541ad27e94790f771289d733235", sources: [RECORD.grafanaPage] },
      arm64: notFound(`grafana_${GRAFANA_VERSION}_${GRAFANA_BUILD}_linux_arm64.tar.gz`),
    },
    archive: "tar.gz",
    // The archive's one top-level directory (its name has changed between releases: grafana-v11…, grafana-12…).
    install: () => ({ tree: { from: "*", to: GRAFANA_HOME } }),
  },
  loki: {
    service: "loki",
    version: "3.7.8",
    artifact: (arch) => `loki-linux-${arch}.zip`,
    baseUrl: () => gh("grafana/loki", "v3.7.8"),
    digests: {
      amd64: { sha256: "62aea42c9cba52cd1642b3666ab37019a0ce4c24ab50b07e85dccc8d812f7d61", sources: [RECORD.stackPlan, RECORD.lokiInstall] },
      arm64: notFound("loki-linux-arm64.zip (v3.7.8)"),
    },
    archive: "zip",
    install: (arch) => ({ binaries: { [`loki-linux-${arch}`]: SERVICES.loki.bin } }),
  },
  tempo: {
    service: "tempo",
    version: "3.1.0",
    artifact: (arch) => `tempo_3.1.0_linux_${arch}.tar.gz`,
    baseUrl: () => gh("grafana/tempo", "v3.1.0"),
    digests: {
      amd64: { sha256: "9604ab46348270a42954801bba91cd65335e16568ef886bdf71b988fdcb7ac4e", sources: [RECORD.tempoInstall] },
      arm64: notFound("tempo_3.1.0_linux_arm64.tar.gz"),
    },
    archive: "tar.gz",
    install: () => ({ binaries: { tempo: SERVICES.tempo.bin } }),
  },
  otelcol: {
    service: "otelcol",
    version: "0.149.0",
    artifact: (arch) => `otelcol-contrib_0.149.0_linux_${arch}.tar.gz`,
    baseUrl: () => gh("open-telemetry/opentelemetry-collector-releases", "v0.149.0"),
    digests: {
      amd64: { sha256: "4acb57355e9388f257b28de8c18422ff43e52eb329052bd54ebecde000dcbb47", sources: [RECORD.otelcolFormula, RECORD.otelcolCue] },
      arm64: notFound("otelcol-contrib_0.149.0_linux_arm64.tar.gz"),
    },
    archive: "tar.gz",
    install: () => ({ binaries: { "otelcol-contrib": SERVICES.otelcol.bin } }),
  },
};


/**
 * Digests the operator supplies in `releaseDigests` for archives this manifest cannot pin, keyed by
 * `releaseDigestKey` (`<component>@<version>/<architecture>`, e.g. `loki@3.7.8/arm64`). The version is part of the
 * key so that an upgrade here turns a stale digest into a config error at preview, not a refused download on the host.
 */
export type OperatorDigests = Readonly<Record<string, string>>;

export function releaseDigestKey(name: ServiceName, architecture: Architecture): string {
  return `${name}@${COMPONENTS[name].version}/${architecture}`;
}

/** The archives of an architecture this manifest pins no digest for, with why (a stack must supply them). */
export function unpinnedReleases(architecture: Architecture): { name: ServiceName; key: string; artifact: string; url: string; reason: string }[] {
  const arch = RELEASE_ARCH[architecture];
  return (Object.keys(COMPONENTS) as ServiceName[]).flatMap((name) => {
    const c = COMPONENTS[name];
    const d = c.digests[arch];
    return d.sha256 === null
      ? [{ name, key: releaseDigestKey(name, architecture), artifact: c.artifact(arch), url: `${c.baseUrl()}/${c.artifact(arch)}`, reason: d.reason }]
      : [];
  });
}
