/**
 * `npm run cost -- <stack> [--series N] [--logs-gib-per-day X] [--traces-gib-per-day Y] [--snapshot-gib Z]
 *  [--grafana-editors N] [--grafana-viewers N]`: the monthly cost of a stack from its config, offline (no AWS call),
 * from pricing/aws-prices.json, next to Amazon Managed Service for Prometheus + Amazon Managed Grafana for the same
 * metrics load. Prices the table does not have are named, never guessed; the total then says it is partial.
 */
import * as path from "path";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { FileConfigSource } from "../config/config-source";
import { formatEstimate, loadPriceTable, managedEstimate, selfManagedEstimate, Usage } from "./lib/cost";
import { PROJECT_DIR } from "./render";

const NUMBER_OPTIONS = ["--series", "--logs-gib-per-day", "--traces-gib-per-day", "--snapshot-gib", "--grafana-editors", "--grafana-viewers", "--project"];

export function parseUsage(argv: string[]): { stack?: string; usage: Usage; project?: string; error?: string } {
  const values = new Map<string, string>();
  let stack: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      if (!NUMBER_OPTIONS.includes(a)) return { usage: defaults(), error: `unknown option ${a}; allowed: ${NUMBER_OPTIONS.join(", ")}` };
      if (argv[i + 1] === undefined) return { usage: defaults(), error: `${a} needs a value` };
      values.set(a, argv[++i]);
    } else stack = a;
  }
  const num = (k: string): number | undefined => {
    const v = values.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new RangeError(`${k} ${JSON.stringify(v)} is not a number >= 0`);
    return n;
  };
  try {
    const d = defaults();
    return {
      stack,
      project: values.get("--project"),
      usage: {
        activeSeries: num("--series"),
        logsGiBPerDay: num("--logs-gib-per-day") ?? d.logsGiBPerDay,
        tracesGiBPerDay: num("--traces-gib-per-day") ?? d.tracesGiBPerDay,
        snapshotGiB: num("--snapshot-gib"),
        grafanaEditors: num("--grafana-editors") ?? d.grafanaEditors,
        grafanaViewers: num("--grafana-viewers") ?? d.grafanaViewers,
      },
    };
  } catch (e) {
    return { usage: defaults(), error: (e as Error).message };
  }
}

/** Stated in the output: a small team's guess, to be replaced by the stack's measured ingest. */
function defaults(): Usage {
  return { logsGiBPerDay: 1, tracesGiBPerDay: 1, grafanaEditors: 1, grafanaViewers: 0 };
}

export function main(argv: string[]): number {
  const { stack, usage, project, error } = parseUsage(argv);
  if (error || !stack) {
    console.error(error ?? "usage: npm run cost -- <stack> [--series N] [--logs-gib-per-day X] [--traces-gib-per-day Y] [--snapshot-gib Z] [--grafana-editors N] [--grafana-viewers N]");
    return 2;
  }
  let cfg;
  try {
    cfg = loadStackConfig(new FileConfigSource(stack, path.resolve(project ?? PROJECT_DIR)), { requireSecrets: false });
  } catch (e) {
    if (e instanceof ConfigError || (e instanceof Error && /^No stack file/.test(e.message))) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  const table = loadPriceTable();
  console.log(`prices: pricing/aws-prices.json, read ${table.retrieved} (${table.currency}, on-demand, before tax)`);
  console.log(
    `usage: ${usage.activeSeries ?? "?"} active series, logs ${usage.logsGiBPerDay} GiB/day, traces ${usage.tracesGiBPerDay} GiB/day, ` +
      `${usage.grafanaEditors} Grafana editor(s), ${usage.grafanaViewers} viewer(s)\n`,
  );
  const own = selfManagedEstimate(cfg, usage, table);
  const managed = managedEstimate(cfg, usage, table);
  console.log(formatEstimate(own));
  console.log("");
  console.log(formatEstimate(managed));
  const missing = [...own.unpriced, ...managed.unpriced].filter((i) => i.missing?.includes("no price")).map((i) => i.priceId);
  if (missing.length > 0) {
    console.log(`\nprices NOT FOUND (on AWS's pages or a cited copy of its Price List) and so not counted: ${[...new Set(missing)].join(", ")} (pricing/aws-prices.json says why)`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
