/**
 * Every LogQL, TraceQL and PromQL expression the project ships is parsed (issue 16, docs/testing.md "Query
 * grammars"):
 * - LogQL and TraceQL by Grafana's own grammars (@grafana/lezer-logql, @grafana/lezer-traceql, the parsers of its
 *   query editors): the log alert rules, the dashboards' Loki and Tempo panels, the data sources' correlation
 *   queries, and the queries quoted in docs/;
 * - PromQL in docs/ by the real `promtool check rules` (each expression a recording rule). The dashboards' PromQL is
 *   parsed by promtool in tests/dashboards.spec.ts, the rule files' by promtool in tests/slo-rules.spec.ts and
 *   tests/service-configs-validators.spec.ts.
 *
 * Lezer parsers never throw: a broken query leaves error nodes (⚠) in the tree, which `syntaxErrorOffsets` finds.
 * Grafana variables are made concrete first (tests/support/grafana-vars.ts). A failure names the file (or
 * dashboard and panel) and shows the expression with ⚠ where the grammar stopped.
 *
 * Where docs quote queries: fenced blocks tagged ```logql, ```traceql or ```promql (one expression per line,
 * `#` lines are comments), `curl … --data-urlencode 'query=…'` (or `q=` for Tempo) in ```sh blocks, whose
 * language follows from the port (9090 Prometheus, 3100 Loki, 3200 Tempo), and a log alert's `selector: '…'` in
 * ```yaml config examples. A query-looking line in an untagged
 * block fails the test: it would escape the check.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { parser as traceqlParser } from "@grafana/lezer-traceql";
import type { StackConfig } from "../config/stack-config";
import { buildDashboards, dashboardQueries } from "../dashboards";
import { grafanaDatasources } from "../hostfiles/services/grafana";
import { serviceFiles } from "../hostfiles/services";
import { placeholderBundleContext } from "../layout/host-file";
import { logqlProblem, markErrors, syntaxErrorOffsets } from "../config/logql";
import { concreteQuery, SAMPLE_SERVICE } from "./support/grafana-vars";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";
import { LOKI_RULES_FILE } from "../layout/host-layout";
import { buildSloModels } from "../rules/slo-model";

type Doc = Record<string, any>;
type Language = "logql" | "traceql" | "promql";

const REPO = path.resolve(__dirname, "..");

/** One shipped expression and where it comes from (for the failure message). */
interface Shipped {
  where: string;
  language: Language;
  expr: string;
}

function traceqlProblem(expr: string): string | undefined {
  const errors = syntaxErrorOffsets(traceqlParser, expr);
  return errors.length ? `is not valid TraceQL (syntax error at ⚠: ${markErrors(expr, errors)})` : undefined;
}

/** LogQL: log or metric query, whichever it is (Grafana panels and docs use both). */
function anyLogqlProblem(expr: string): string | undefined {
  const asLog = logqlProblem(expr, "log");
  if (!asLog) return undefined;
  const asMetric = logqlProblem(expr, "metric");
  if (!asMetric) return undefined;
  return /syntax error/.test(asLog) ? asLog : asMetric;
}

function problemsOf(items: Shipped[], language: "logql" | "traceql"): string[] {
  const check = language === "logql" ? anyLogqlProblem : traceqlProblem;
  return items
    .filter((i) => i.language === language)
    .flatMap((i) => {
      const p = check(i.expr);
      return p ? [`${i.where}: ${JSON.stringify(i.expr)} ${p}`] : [];
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Where expressions live

function ruleExpressions(cfg: StackConfig): Shipped[] {
  const file = serviceFiles(cfg, placeholderBundleContext(cfg.stack)).find((f) => f.path === LOKI_RULES_FILE)!;
  return (YAML.parse(file.content).groups as Doc[]).flatMap((g) =>
    (g.rules as Doc[]).map((r) => ({ where: `${LOKI_RULES_FILE} group ${g.name} alert ${r.alert}`, language: "logql" as const, expr: r.expr })),
  );
}

function dashboardExpressions(cfg: StackConfig): Shipped[] {
  return buildDashboards(buildSloModels(cfg)).flatMap((d) =>
    dashboardQueries(d)
      .filter((q) => q.datasource.type === "loki" || q.datasource.type === "tempo")
      .map((q) => ({
        where: `dashboard ${d.uid} / ${q.panel} ${q.refId}`,
        language: (q.datasource.type === "loki" ? "logql" : "traceql") as Language,
        expr: concreteQuery(q.expr, d),
      })),
  );
}

/**
 * The data sources' correlation queries: trace → logs (the Tempo data source's custom LogQL query, when it has one),
 * and any other query-valued field (`query`, `customQuery` strings) in the provisioned jsonData.
 */
function datasourceExpressions(): Shipped[] {
  const out: Shipped[] = [];
  for (const ds of grafanaDatasources()) {
    const toLogs = ds.jsonData.tracesToLogsV2 as Doc | undefined;
    if (toLogs && typeof toLogs.query === "string" && toLogs.query.trim() !== "") {
      // ${__tags}: the matchers Grafana builds from the link's tags (span attribute → Loki label).
      const tags = ((toLogs.tags ?? []) as Doc[]).map((t) => `${t.value ?? t.key}="${SAMPLE_SERVICE}"`).join(", ");
      out.push({ where: `data source ${ds.uid}: tracesToLogsV2.query (trace → logs)`, language: "logql", expr: concreteQuery(toLogs.query, undefined, { __tags: tags }) });
    }
    const toMetrics = ds.jsonData.tracesToMetrics as Doc | undefined;
    for (const q of (toMetrics?.queries ?? []) as Doc[]) {
      if (typeof q.query === "string") out.push({ where: `data source ${ds.uid}: tracesToMetrics ${q.name}`, language: "promql", expr: concreteQuery(q.query) });
    }
  }
  return out;
}

interface Block {
  file: string;
  line: number;
  lang: string;
  body: string[];
}

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(p);
    return e.name.endsWith(".md") ? [p] : [];
  });
}

function codeBlocks(file: string): Block[] {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const blocks: Block[] = [];
  let open: Block | undefined;
  lines.forEach((l, i) => {
    const fence = /^\s*```(\S*)\s*$/.exec(l);
    if (fence && !open) open = { file: path.relative(REPO, file), line: i + 1, lang: fence[1], body: [] };
    else if (fence && open) {
      blocks.push(open);
      open = undefined;
    } else if (open) open.body.push(l);
  });
  return blocks;
}

/** Shell lines joined across trailing backslashes, with the line number of their first line. */
function shellCommands(b: Block): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let cur: { line: number; text: string } | undefined;
  b.body.forEach((l, i) => {
    const text = l.replace(/\\$/, "");
    if (cur) cur.text += ` ${text.trim()}`;
    else cur = { line: b.line + 1 + i, text };
    if (!l.endsWith("\\")) {
      out.push(cur);
      cur = undefined;
    }
  });
  if (cur) out.push(cur);
  return out;
}

const PORT_LANGUAGE: Record<string, Language> = { "9090": "promql", "3100": "logql", "3200": "traceql" };

/** `query=…`/`q=…` inside single quotes of a --data-urlencode, with the port of the URL on the same command. */
function curlQueries(b: Block): Shipped[] {
  const out: Shipped[] = [];
  for (const c of shellCommands(b)) {
    if (!/\bcurl\b/.test(c.text)) continue;
    const port = /localhost:(\d+)|127\.0\.0\.1:(\d+)/.exec(c.text);
    const language = port ? PORT_LANGUAGE[port[1] ?? port[2]] : undefined;
    for (const m of c.text.matchAll(/--data-urlencode '(query|q)=([^']*)'/g)) {
      assert.ok(language, `${b.file}:${c.line}: a query for an unknown port; say which service it goes to (localhost:9090, 3100 or 3200)`);
      out.push({ where: `${b.file}:${c.line}`, language, expr: m[2] });
    }
  }
  return out;
}

/** Looks like LogQL or TraceQL: a stream selector on the OTLP labels, or a TraceQL span set. */
const QUERY_LOOKING = /\{\s*(service_name|service_namespace)\s*=|\{\s*(resource|span)\.[a-z]|\{\s*\.[a-z][\w.]*\s*[=!<>]/;

function docExpressions(): { shipped: Shipped[]; untagged: string[] } {
  const files = [...markdownFiles(path.join(REPO, "docs")), path.join(REPO, "README.md")];
  const shipped: Shipped[] = [];
  const untagged: string[] = [];
  for (const f of files) {
    for (const b of codeBlocks(f)) {
      if (b.lang === "logql" || b.lang === "traceql" || b.lang === "promql") {
        b.body.forEach((l, i) => {
          if (l.trim() === "" || l.trim().startsWith("#")) return;
          shipped.push({ where: `${b.file}:${b.line + 1 + i}`, language: b.lang as Language, expr: l.trim() });
        });
      } else if (b.lang === "sh" || b.lang === "bash") {
        shipped.push(...curlQueries(b));
      } else if (b.lang === "yaml") {
        // Config examples: a log alert's `selector` is a LogQL stream selector.
        b.body.forEach((l, i) => {
          const m = /^\s*-?\s*selector:\s*'(.*)'\s*$/.exec(l);
          if (m) shipped.push({ where: `${b.file}:${b.line + 1 + i}`, language: "logql", expr: m[1] });
          else if (QUERY_LOOKING.test(l)) untagged.push(`${b.file}:${b.line + 1 + i}: ${l.trim()}`);
        });
      } else {
        b.body.forEach((l, i) => {
          if (QUERY_LOOKING.test(l)) untagged.push(`${b.file}:${b.line + 1 + i}: ${l.trim()}`);
        });
      }
    }
  }
  return { shipped, untagged };
}

// ---------------------------------------------------------------------------------------------------------------

describe("query grammars: every LogQL, TraceQL and PromQL expression the project ships parses", () => {
  const configs: [string, () => StackConfig][] = [
    ["dev", () => stackConfig("dev")],
    ["prd", () => stackConfig("prd")],
  ];

  describe("the checks can fail (lezer marks errors instead of throwing)", () => {
    it("LogQL: broken queries are reported with ⚠ where the parser stopped", () => {
      assert.match(anyLogqlProblem('sum(count_over_time({service_name="a"}[5m])')!, /⚠/);
      assert.match(anyLogqlProblem('{service_name="a"} |= ')!, /⚠/);
      assert.match(anyLogqlProblem('{service_name="a" | json')!, /⚠/);
      assert.equal(anyLogqlProblem('{service_name="a"} | json | status >= 500'), undefined);
      assert.equal(anyLogqlProblem('sum by (detected_level) (count_over_time({service_name="a"}[5m]))'), undefined);
    });

    it("TraceQL: broken queries are reported, valid ones pass", () => {
      assert.match(traceqlProblem('{ resource.service.name = "a" &&  }')!, /⚠/);
      assert.match(traceqlProblem('{ span.http.status_code >= }')!, /⚠/);
      assert.equal(traceqlProblem('{ resource.service.name = "a" && span.http.response.status_code >= 500 }'), undefined);
      assert.equal(traceqlProblem('{ resource.service.name = "a" && duration > 400ms }'), undefined);
    });

    it("Grafana variables are substituted, and an unknown one fails instead of being guessed", () => {
      assert.equal(concreteQuery('rate({a="b"}[$__rate_interval])'), 'rate({a="b"}[5m])');
      assert.equal(concreteQuery('{service_name="${__span.tags["service.name"]}"} | trace_id="${__trace.traceId}"'), '{service_name="appointments-api"} | trace_id="4bf92f3577b34da6a3ce929d0e0e4736"');
      assert.equal(concreteQuery("$${__value.raw}"), "4bf92f3577b34da6a3ce929d0e0e4736");
      assert.throws(() => concreteQuery('{service_name="$unknown"}'), /unresolved Grafana variable/);
    });
  });

  for (const [name, cfg] of configs) {
    describe(`stack ${name}`, () => {
      it("log alert rules (Loki ruler): LogQL", () => {
        const exprs = ruleExpressions(cfg());
        assert.ok(exprs.length >= 6, `${exprs.length} rules`);
        assert.deepEqual(problemsOf(exprs, "logql"), []);
      });

      it("dashboards: every Loki panel (LogQL) and Tempo panel (TraceQL)", () => {
        const exprs = dashboardExpressions(cfg());
        assert.ok(exprs.some((e) => e.language === "logql"), "a Loki panel exists");
        assert.ok(exprs.some((e) => e.language === "traceql"), "a Tempo panel exists");
        assert.deepEqual([...problemsOf(exprs, "logql"), ...problemsOf(exprs, "traceql")], []);
      });
    });
  }

  it("data sources: the correlation queries parse, and trace → logs and logs → trace are both linked", () => {
    const exprs = datasourceExpressions();
    assert.deepEqual([...problemsOf(exprs, "logql"), ...problemsOf(exprs, "traceql")], []);
    const tempo = grafanaDatasources().find((d) => d.type === "tempo")!;
    const toLogs = tempo.jsonData.tracesToLogsV2 as Doc;
    assert.ok(toLogs.filterByTraceID === true || typeof toLogs.query === "string", "trace → logs filters by the trace id");
    if (toLogs.customQuery) {
      const q = exprs.find((e) => e.where.includes("tracesToLogsV2"));
      assert.ok(q, "the custom query is checked");
      // Loki keeps the OTLP trace id as structured metadata: a label filter, not a line filter.
      assert.match(q.expr, /\| trace_id="[0-9a-f]{32}"/);
    }
    const loki = grafanaDatasources().find((d) => d.type === "loki")!;
    const derived = (loki.jsonData.derivedFields as Doc[]).find((f) => f.datasourceUid === tempo.uid);
    assert.ok(derived, "logs → trace: a derived field links to Tempo");
    // The derived field's "query" is the trace id itself (Tempo looks a bare id up): after substitution, a hex id.
    assert.match(concreteQuery(derived.url), /^[0-9a-f]{32}$/);
  });

  describe("docs", () => {
    const { shipped, untagged } = docExpressions();

    it("no query hides in an untagged code block (tag it logql, traceql or promql)", () => {
      assert.deepEqual(untagged, []);
    });

    it("LogQL and TraceQL quoted in docs/ (runbooks included) parse", () => {
      assert.ok(shipped.filter((e) => e.language === "logql").length >= 5, "the runbooks quote LogQL");
      assert.ok(shipped.filter((e) => e.language === "traceql").length >= 2, "the runbooks quote TraceQL");
      assert.deepEqual([...problemsOf(shipped, "logql"), ...problemsOf(shipped, "traceql")], []);
    });

    it("PromQL quoted in docs/ parses (promtool check rules)", function () {
      requireTool(this, "promtool");
      const prom = shipped.filter((e) => e.language === "promql");
      assert.ok(prom.length >= 5, `${prom.length} PromQL expressions in docs`);
      const tmp = tempDir("docs-promql-");
      try {
        const file = path.join(tmp.dir, "docs.yml");
        fs.writeFileSync(file, YAML.stringify({ groups: prom.map((e, i) => ({ name: `q${i}`, rules: [{ record: `docs_query_${i}`, expr: e.expr }] })) }));
        const r = run("promtool", ["check", "rules", file]);
        if (r.status !== 0) {
          // promtool names the group; map it back to the file and expression.
          const named = `${r.stdout}\n${r.stderr}`.replace(/group "q(\d+)"/g, (_, i: string) => `${prom[Number(i)].where}: ${JSON.stringify(prom[Number(i)].expr)}`);
          assert.fail(named);
        }
        assert.match(`${r.stdout}\n${r.stderr}`, new RegExp(`SUCCESS: ${prom.length} rules found`));
      } finally {
        tmp.cleanup();
      }
    });
  });
});
