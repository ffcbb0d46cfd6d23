/**
 * Every component version the host runs, pinned in one place, with where each release archive and its published
 * checksum file live. The host's sync step downloads the archive and the checksum file and refuses to install when
 * the SHA-256 does not match (templates/host/monitoring-sync.sh).
 *
 * Upgrading: change `version` here (GRAFANA_VERSION and GRAFANA_BUILD for Grafana), run `npm run render -- <stack>` and `npm test`, then
 * `pulumi up`: the bundle changes, the host downloads, verifies and installs the new binary and restarts that one
 * service. docs/host-bootstrap.md has the checklist.
 *
 * Versions confirmed as published releases (artifact URLs and digests quoted in public install records of
 * 2026-09/10): Prometheus 3.15.0, Alertmanager 0.34.1, node_exporter 1.12.1, Grafana OSS 13.2.3 (build
 * 36482603486), Loki 3.7.8, Tempo 3.1.0. otelcol-contrib stays at 0.149.0: from v0.158 the release publishes one
 * checksum file per artifact (and cosign v3 bundles) instead of the combined checksums file read here; moving
 * past it means changing its `checksum` entry to the new file name once confirmed.
 */
import type { Architecture } from "../components/config";
import { GRAFANA_HOME, SERVICES, ServiceName } from "./layout";
import { SERVICE_UNITS } from "./services/common";

/** Release-archive architecture names: every upstream here uses Go's GOARCH names. */
export const RELEASE_ARCH: Record<Architecture, "amd64" | "arm64"> = { x86_64: "amd64", arm64: "arm64" };

/**
 * How the published checksum file is laid out: `sums` = `sha256sum` output for every artifact of the release
 * (`<hex>  <file name>` lines); `single` = one file per artifact whose first word is the hex digest.
 */
export type ChecksumFormat = "sums" | "single";

export interface Component {
  service: ServiceName;
  version: string;
  /** File name of the release archive for an architecture. */
  artifact(arch: string): string;
  /** Directory URL the archive is downloaded from. */
  baseUrl(): string;
  /** File name (in baseUrl) of the published checksum file covering `artifact`. */
  checksum(arch: string): { file: string; format: ChecksumFormat };
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
function prometheusProject(service: ServiceName, repo: string, name: string, version: string, extraBinaries: Record<string, string> = {}): Component {
  const dir = (arch: string) => `${name}-${version}.linux-${arch}`;
  return {
    service,
    version,
    artifact: (arch) => `${dir(arch)}.tar.gz`,
    baseUrl: () => gh(`prometheus/${repo}`, `v${version}`),
    checksum: () => ({ file: "sha256sums.txt", format: "sums" }),
    archive: "tar.gz",
    install: (arch) => ({
      binaries: {
        [`${dir(arch)}/${name}`]: SERVICES[service].bin,
        ...Object.fromEntries(Object.entries(extraBinaries).map(([member, to]) => [`${dir(arch)}/${member}`, to])),
      },
    }),
  };
}

export const GRAFANA_VERSION = "13.2.3";
/** CI build number in Grafana's archive names (since 12.1); the download page of the release shows it. */
export const GRAFANA_BUILD = "36482603486";

export const COMPONENTS: Record<ServiceName, Component> = {
  // promtool/amtool come along: on-call uses them on the host (`promtool check config`, `amtool silence`).
  prometheus: prometheusProject("prometheus", "prometheus", "prometheus", "3.15.0", { promtool: "/usr/local/bin/promtool" }),
  alertmanager: prometheusProject("alertmanager", "alertmanager", "alertmanager", "0.34.1", { amtool: "/usr/local/bin/amtool" }),
  nodeExporter: prometheusProject("nodeExporter", "node_exporter", "node_exporter", "1.12.1"),
  grafana: {
    service: "grafana",
    version: GRAFANA_VERSION,
    artifact: (arch) => `grafana_${GRAFANA_VERSION}_${GRAFANA_BUILD}_linux_${arch}.tar.gz`,
    baseUrl: () => `https://dl.grafana.com/grafana/release/${GRAFANA_VERSION}`,
    checksum: (arch) => ({ file: `grafana_${GRAFANA_VERSION}_${GRAFANA_BUILD}_linux_${arch}.tar.gz.sha256`, format: "single" }),
    archive: "tar.gz",
    // The archive's one top-level directory (its name has changed between releases: grafana-v11…, grafana-12…).
    install: () => ({ tree: { from: "*", to: GRAFANA_HOME } }),
  },
  loki: {
    service: "loki",
    version: "3.7.8",
    artifact: (arch) => `loki-linux-${arch}.zip`,
    baseUrl: () => gh("grafana/loki", "v3.7.8"),
    checksum: () => ({ file: "SHA256SUMS", format: "sums" }),
    archive: "zip",
    install: (arch) => ({ binaries: { [`loki-linux-${arch}`]: SERVICES.loki.bin } }),
  },
  tempo: {
    service: "tempo",
    version: "3.1.0",
    artifact: (arch) => `tempo_3.1.0_linux_${arch}.tar.gz`,
    baseUrl: () => gh("grafana/tempo", "v3.1.0"),
    checksum: () => ({ file: "SHA256SUMS", format: "sums" }),
    archive: "tar.gz",
    install: () => ({ binaries: { tempo: SERVICES.tempo.bin } }),
  },
  otelcol: {
    service: "otelcol",
    version: "0.149.0",
    artifact: (arch) => `otelcol-contrib_0.149.0_linux_${arch}.tar.gz`,
    baseUrl: () => gh("open-telemetry/opentelemetry-collector-releases", "v0.149.0"),
    checksum: () => ({ file: "opentelemetry-collector-releases_otelcol-contrib_checksums.txt", format: "sums" }),
    archive: "tar.gz",
    install: () => ({ binaries: { "otelcol-contrib": SERVICES.otelcol.bin } }),
  },
};


/** One component resolved for one architecture: what the host's scripts read (bundle `versions`, versions.tsv). */
export interface ResolvedComponent {
  name: ServiceName;
  version: string;
  unit: string;
  artifact: string;
  url: string;
  checksumUrl: string;
  checksumFormat: ChecksumFormat;
  archive: "tar.gz" | "zip";
  /** `member=dest` pairs, or `tree:<dir>=<dest>`; comma-separated in versions.tsv. */
  install: string[];
}

export function resolveComponents(architecture: Architecture): ResolvedComponent[] {
  const arch = RELEASE_ARCH[architecture];
  return (Object.keys(COMPONENTS) as ServiceName[]).map((name) => {
    const c = COMPONENTS[name];
    const base = c.baseUrl();
    const spec = c.install(arch);
    const install =
      "tree" in spec ? [`tree:${spec.tree.from}=${spec.tree.to}`] : Object.entries(spec.binaries).map(([from, to]) => `${from}=${to}`);
    return {
      name,
      version: c.version,
      unit: SERVICE_UNITS[name],
      artifact: c.artifact(arch),
      url: `${base}/${c.artifact(arch)}`,
      checksumUrl: `${base}/${c.checksum(arch).file}`,
      checksumFormat: c.checksum(arch).format,
      archive: c.archive,
      install,
    };
  });
}

/** versions.tsv: one tab-separated line per component, read by the host scripts with `read -r` (no JSON parser). */
export function versionsTsv(architecture: Architecture): string {
  const rows = resolveComponents(architecture).map((c) =>
    [c.name, c.version, c.unit, c.artifact, c.url, c.checksumUrl, c.checksumFormat, c.archive, c.install.join(",")].join("\t"),
  );
  for (const row of rows) {
    if (/[\s'"\\$`]/.test(row.replace(/\t/g, ""))) throw new Error(`versions.tsv row has characters the host scripts do not expect: ${row}`);
  }
  return `${rows.join("\n")}\n`;
}
