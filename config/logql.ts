/**
 * LogQL checked by Grafana's own grammar (@grafana/lezer-logql, the parser of Grafana's Loki query editor).
 *
 * A lezer parser never throws: on bad input it recovers and leaves error nodes (shown as ⚠ in a tree dump) in the
 * tree. `syntaxErrorOffsets` walks the tree for them; every caller must use it (or `logqlProblem`), never the bare
 * `parse`, or a broken query passes silently.
 */
import { parser as logqlParser } from "@grafana/lezer-logql";

/**
 * What is used of a lezer parser (any of Grafana's query grammars). Structural on purpose: each grammar package
 * resolves @lezer/lr in its own module format, and their nominal types do not line up.
 */
export interface Grammar {
  parse(text: string): { iterate(spec: { enter(node: { type: { isError: boolean }; from: number }): void }): void };
}

/** Offsets in `text` where the grammar found a syntax error (empty: it parses). */
export function syntaxErrorOffsets(parser: Grammar, text: string): number[] {
  const offsets: number[] = [];
  parser.parse(text).iterate({
    enter: (n) => {
      if (n.type.isError) offsets.push(n.from);
    },
  });
  return offsets;
}

/** `text` with a ⚠ marker at each error offset, for messages. */
export function markErrors(text: string, offsets: number[]): string {
  let out = text;
  for (const at of [...new Set(offsets)].sort((a, b) => b - a)) out = `${out.slice(0, at)}⚠${out.slice(at)}`;
  return out;
}

/** What a query must be: a log query (`{…} | …`, lines) or a metric query (`sum(count_over_time(…))`, numbers). */
export type LogqlQueryType = "log" | "metric";

/**
 * Why `expr` is not a valid LogQL query of `queryType`, or undefined. Beyond the grammar it checks what Loki's own
 * parser also refuses (pkg/logql/syntax): a stream selector needs at least one matcher that cannot match the empty
 * string.
 */
export function logqlProblem(expr: string, queryType: LogqlQueryType): string | undefined {
  const errors = syntaxErrorOffsets(logqlParser, expr);
  if (errors.length) return `is not valid LogQL (syntax error at ⚠: ${markErrors(expr, errors)})`;
  const tree = logqlParser.parse(expr);
  const top = tree.topNode.firstChild?.firstChild;
  const want = queryType === "log" ? "LogExpr" : "MetricExpr";
  if (top?.name !== want) return `is a LogQL ${top?.name === "LogExpr" ? "log" : "metric"} query; a ${queryType} query is needed here`;
  let selectors = 0;
  let problem: string | undefined;
  tree.iterate({
    enter: (n) => {
      if (n.name !== "Selector") return;
      selectors++;
      const matchers: { op: string; value: string }[] = [];
      for (let m = n.node.getChild("Matchers"); m; ) {
        // Matchers nest left-recursively: `a, b` is Matchers(Matchers(a), b).
        for (const matcher of m.getChildren("Matcher")) {
          const op = matcher.firstChild?.nextSibling;
          const str = matcher.getChild("String");
          if (op && str) matchers.push({ op: op.name, value: unquote(expr.slice(str.from, str.to)) });
        }
        m = m.getChild("Matchers");
      }
      const nonEmpty = matchers.some((m) => (m.op === "Eq" && m.value !== "") || (m.op === "Re" && !regexMatchesEmpty(m.value)));
      if (!nonEmpty) problem = `has a stream selector ${expr.slice(n.from, n.to)} without a matcher that excludes the empty value (Loki refuses it)`;
    },
  });
  if (selectors === 0) return "has no stream selector";
  return problem;
}

/** A LogQL string literal's value: backticks are raw, double quotes use Go (here: JSON-compatible) escapes. */
function unquote(literal: string): string {
  if (literal.startsWith("`")) return literal.slice(1, -1);
  try {
    return JSON.parse(literal) as string;
  } catch {
    return literal.slice(1, -1);
  }
}

/** Whether a (RE2) regex matches "". Syntax JavaScript lacks (like `(?i)`) counts as "does not": Loki decides then. */
function regexMatchesEmpty(re: string): boolean {
  try {
    return new RegExp(`^(?:${re})$`).test("");
  } catch {
    return false;
  }
}
