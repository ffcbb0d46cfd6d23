/**
 * The runbooks as a stack serves them (rules/runbook-links.ts decides where alerts link): every shared runbook of
 * docs/runbooks/, plus one per SLO for each runbook its alerts link (the shared text with the SLO's facts and exact
 * commands, rules/slo-runbook.ts) and one service-down runbook per service. Each becomes a Grafana dashboard with one
 * markdown text panel in the "Runbooks" folder, so the links work through the Grafana tunnel without publishing
 * anything; `npm run render` also writes them as markdown to out/<stack>/runbooks/ for teams that publish them.
 *
 * Grafana interpolates dashboard variables (`$name`, `${…}`, `[[…]]`) in text panels; runbook dashboards define
 * none, and the test suite checks no runbook contains Grafana's built-in macros (`$__…`, `${__…}`).
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as text from "@grafana/grafana-foundation-sdk/text";
import type { StackConfig } from "../config/stack-config";
import { routeAlert } from "../config/alert-routing";
import {
  joinSections,
  RenderedRunbook,
  RunbookRef,
  runbookPath,
  runbookTitle,
  runbookUid,
  sharedRunbooks,
  splitSections,
} from "../rules/runbook-links";
import { ALERT_NAMES } from "../config/slo-alerts";
import { RUNBOOKS } from "../rules/slo-conventions";
import type { SloModels } from "../rules/slo-model";
import { serviceFirstCommands, sloFacts, sloFirstCommands, type RouteOf } from "../rules/slo-runbook";
import { baseDashboard, finish } from "./common";

type RunbookConfig = Pick<StackConfig, "alerting">;

const FIRST = /^First /;

/** The shared runbook `file` with its "First …" section replaced and `facts` put first. */
function specialise(file: string, shared: string, title: string, facts: { heading: string; body: string } | undefined, first: string): string {
  const doc = splitSections(shared);
  // The shared text's note on placeholders does not apply once they are filled in.
  doc.head = doc.head.replace(/^# .+$/m, `# ${title}`).replace(/^> The runbook an alert links.*\n/m, "");
  doc.head += `> Generated for this stack from its config and the shared runbook docs/runbooks/${file}: the facts and commands below are this one's.\n\n`;
  doc.sections = doc.sections.map((s) => (FIRST.test(s.heading) ? { heading: s.heading, body: `\n${first}\n` } : s));
  if (facts) doc.sections.unshift(facts);
  return joinSections(doc);
}

/** Every runbook of a stack with its final markdown: the shared ones, and those of its SLOs and services. */
export function renderRunbooks(cfg: RunbookConfig, set: SloModels): RenderedRunbook[] {
  const shared = sharedRunbooks();
  const route: RouteOf = (labels) => routeAlert(labels, cfg.alerting.receivers).receivers;
  const out: RenderedRunbook[] = [];
  for (const [file, md] of shared) out.push({ ref: { file }, title: runbookTitle(md, file), markdown: md });
  for (const m of set.slos) {
    for (const file of [...new Set(m.alertNames.map((a) => RUNBOOKS[a]))]) {
      const md = shared.get(file);
      if (!md) throw new Error(`alerts of SLO ${m.name} link docs/runbooks/${file}, which does not exist`);
      const title = `${runbookTitle(md, file)} — SLO ${m.name}`;
      out.push({
        ref: { file, slo: m.name },
        title,
        markdown: specialise(file, md, title, { heading: "This SLO", body: `\n${sloFacts(m, route)}\n` }, sloFirstCommands(m, file)),
      });
    }
  }
  for (const svc of set.services.filter((s) => s.alert)) {
    const file = RUNBOOKS[ALERT_NAMES.serviceDown];
    const md = shared.get(file)!;
    const title = `${runbookTitle(md, file)} — ${svc.service}`;
    const a = svc.alert!;
    const facts =
      `\n| | |\n|---|---|\n| service (\`job\`) | \`${svc.service}\` |\n| detected by | \`${svc.health}\` (${a.expr.replace(/\|/g, "\\|")}), for ${a.for} |\n` +
      `| its SLOs | ${svc.slos.map((s) => `\`${s}\``).join(", ")} |\n| severity | ${a.labels.severity} |\n` +
      `| notifies | ${route({ alertname: a.alert, ...a.labels }).map((r) => `\`${r}\``).join(", ")} |\n\n`;
    out.push({ ref: { file, service: svc.service }, title, markdown: specialise(file, md, title, { heading: "This service", body: facts }, serviceFirstCommands(svc)) });
  }
  return out;
}

/**
 * Rewrites the relative links of a runbook: to another runbook → `linkOf(that runbook)`; to other repository
 * documents → their path, as text (they are not served).
 */
export function rewriteLinks(md: string, linkOf: (ref: RunbookRef) => string): string {
  return md.replace(/\[([^\]]+)\]\(((?!https?:|#|mailto:)[^)\s]+)\)/g, (_, label: string, target: string) => {
    const [file, anchor] = target.split("#");
    if (/^[a-z0-9-]+\.md$/.test(file)) return `[${label}](${linkOf({ file })}${anchor ? `#${anchor}` : ""})`;
    const repoPath = `docs/runbooks/${file}`.replace(/[^/]+\/\.\.\//g, "");
    return `${label} (${repoPath} in the monitoring-hosts repository)`;
  });
}

/** The Grafana folder (a directory under the dashboards provider's path) of the runbook dashboards. */
export const RUNBOOK_FOLDER = "Runbooks";

/** One dashboard per runbook: a markdown text panel, tall enough to read without scrolling the panel. */
export function runbookDashboards(cfg: RunbookConfig, set: SloModels): dashboard.Dashboard[] {
  return renderRunbooks(cfg, set).map((r) => {
    const content = rewriteLinks(r.markdown, (ref) => `/d/${runbookUid(ref)}`);
    const lines = content.split("\n").length;
    const b = baseDashboard(`Runbook: ${r.title}`, runbookUid(r.ref), ["runbook", ...(r.ref.slo ? ["slo"] : [])])
      .description(`Runbook ${runbookPath(r.ref)}, generated from docs/runbooks/ and the stack's config.`)
      .refresh("")
      .withPanel(
        new text.PanelBuilder()
          .title("")
          .mode(text.TextMode.Markdown)
          .content(content)
          .span(24)
          .height(Math.min(200, Math.ceil(lines * 0.8) + 4)),
      );
    return finish(b);
  });
}
