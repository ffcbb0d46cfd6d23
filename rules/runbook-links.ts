/**
 * Where each alert's runbook lives, and the runbooks as on-call reads them (docs/dashboards.md, "Runbooks").
 *
 * By default the runbooks are served by the host's own Grafana (dashboards/runbooks.ts renders each into a text
 * panel), behind the same tunnel as the dashboards: an alert's `runbook_url` is `http://localhost:3000/d/<uid>`,
 * which opens once `pulumi stack output tunnels` has opened the Grafana tunnel — no placeholder, nothing to publish.
 * A team that publishes the runbooks elsewhere sets `runbookBaseUrl` and publishes `out/<stack>/runbooks/` of
 * `npm run render` there (same relative paths as `runbookPath`).
 *
 * Alerts of an SLO link a runbook for that SLO (`slos/<slo>/<file>`): the shared text of docs/runbooks/<file> with
 * the SLO's facts and its exact queries and commands generated from the SLO model (rules/slo-runbook.ts); the
 * service-down alert links one per service (`services/<service>/<file>`).
 */
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../config/stack-config";
import { stableUid } from "../layout/dashboard-uid";
import { SERVICES } from "../layout/host-layout";
import { slug } from "../layout/slug";

export const RUNBOOK_DIR = path.resolve(__dirname, "..", "docs", "runbooks");

/** Which runbook: a shared one (`file` only), one SLO's, or one service's. */
export interface RunbookRef {
  /** File name in docs/runbooks/, with `.md`. */
  file: string;
  slo?: string;
  service?: string;
}

/** What an alert links: a runbook this stack renders, or a page elsewhere (a log alert's `runbook` may be a URL). */
export type RunbookLink = RunbookRef | { url: string };

/** The path of a runbook below `runbookBaseUrl` (and below out/<stack>/runbooks/). */
export function runbookPath(ref: RunbookRef): string {
  if (ref.slo) return `slos/${slug(ref.slo)}/${ref.file}`;
  if (ref.service) return `services/${slug(ref.service)}/${ref.file}`;
  return ref.file;
}

/** The uid of the Grafana dashboard that shows a runbook. */
export function runbookUid(ref: RunbookRef): string {
  return stableUid(`runbook-${runbookPath(ref).replace(/\.md$/, "")}`);
}

/** What on-call's browser reaches through the Grafana tunnel (`tunnelCommands` forwards the same local port). */
export const GRAFANA_TUNNEL_URL = `http://localhost:${SERVICES.grafana.ports.http}`;

/**
 * The link an alert carries: below `runbookBaseUrl` when set, else the runbook dashboard on the host's Grafana; a
 * page elsewhere as it is.
 */
export function runbookUrl(cfg: Pick<StackConfig, "runbookBaseUrl">, ref: RunbookLink): string {
  if ("url" in ref) return ref.url;
  return cfg.runbookBaseUrl ? `${cfg.runbookBaseUrl}/${runbookPath(ref)}` : `${GRAFANA_TUNNEL_URL}/d/${runbookUid(ref)}`;
}

/** The shared runbooks (docs/runbooks/*.md), file name → markdown. */
export function sharedRunbooks(): Map<string, string> {
  const files = fs.readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith(".md") && f !== "README.md").sort();
  return new Map(files.map((f) => [f, fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8")]));
}

/** A markdown document split at its `## ` headings: the part before the first one, then each section. */
export interface MarkdownSections {
  head: string;
  sections: { heading: string; body: string }[];
}

export function splitSections(md: string): MarkdownSections {
  const parts = md.split(/^(?=## )/m);
  const head = parts[0].startsWith("## ") ? "" : parts.shift()!;
  return {
    head,
    sections: parts.map((p) => {
      const nl = p.indexOf("\n");
      return { heading: p.slice(3, nl < 0 ? undefined : nl).trim(), body: nl < 0 ? "" : p.slice(nl + 1) };
    }),
  };
}

export function joinSections(s: MarkdownSections): string {
  return s.head + s.sections.map((x) => `## ${x.heading}\n${x.body}`).join("");
}

/** One runbook as rendered for a stack: where it is linked from and its full markdown. */
export interface RenderedRunbook {
  ref: RunbookRef;
  title: string;
  markdown: string;
}

/** The H1 of a runbook (its alert names), or the file name. */
export function runbookTitle(md: string, fallback: string): string {
  return /^# (.+)$/m.exec(md)?.[1].trim() ?? fallback;
}
