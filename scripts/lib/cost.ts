/**
 * The monthly cost of a stack, from its configuration and a price table kept in the repo (pricing/aws-prices.json).
 * Pure: quantities come from the StackConfig and the usage the caller states; a price missing from the table is
 * reported as missing (never guessed), and a total that misses prices says so.
 */
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../../config/stack-config";
import { GP3 } from "../../config/limits";
import { parseDuration, Duration } from "../../config/duration";
import { ALERTING_TIMING } from "../../layout/host-layout";

/** AWS bills a month as 730 hours in its pricing examples and calculator. */
export const HOURS_PER_MONTH = 730;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

export interface Price {
  id: string;
  description: string;
  unit: string;
  usd: number | null;
  /** The AWS page, or the AWS Price List API offer file, the price was read from. */
  source: string;
  /** When the price was read (YYYY-MM-DD); set on every non-null price. */
  retrieved?: string;
  /** How it was read; a figure taken from a stored copy of an offer file starts with SECONDARY and cites the copy. */
  note: string;
}

export interface PriceTable {
  retrieved: string;
  /** The one region the prices are for. */
  region: string;
  currency: string;
  method: string;
  prices: Price[];
}

export const PRICE_TABLE_FILE = path.resolve(__dirname, "../../pricing/aws-prices.json");

export function loadPriceTable(file = PRICE_TABLE_FILE): PriceTable {
  return JSON.parse(fs.readFileSync(file, "utf8")) as PriceTable;
}

/** What the configuration cannot say: how much telemetry arrives and who looks at it. */
export interface Usage {
  /** Active series in Prometheus (per replica). */
  activeSeries?: number;
  /** Logs and traces written to S3 per day, compressed, in GiB. */
  logsGiBPerDay: number;
  tracesGiBPerDay: number;
  /** GiB held by the data volume's snapshots (incremental: only changed blocks count). */
  snapshotGiB?: number;
  grafanaEditors: number;
  grafanaViewers: number;
}

export interface LineItem {
  what: string;
  priceId: string;
  /** Undefined when the usage needed to count it was not given (`missing` says which). */
  quantity?: number;
  unit: string;
  /** Undefined when the price table has no figure for it. */
  usd?: number;
  missing?: string;
}

export interface Estimate {
  title: string;
  items: LineItem[];
  /** Sum of the items that have both a quantity and a price. */
  knownUsd: number;
  /** Items left out of knownUsd (no price or no quantity). */
  unpriced: LineItem[];
}

/** Hosts in the stack. One until the HA pair lands; read from the config then. */
export function hostCount(cfg: Pick<StackConfig, "hosts">): number {
  return cfg.hosts;
}

const days = (d: Duration) => d.seconds / 86400;

/** Samples a Prometheus replica appends (and would remote-write) in a month at the rendered scrape interval. */
export function samplesPerMonth(activeSeries: number): number {
  return (activeSeries * SECONDS_PER_MONTH) / (parseDuration(ALERTING_TIMING.scrapeInterval) as Duration).seconds;
}

function estimate(region: string, title: string, raw: Omit<LineItem, "usd">[], table: PriceTable): Estimate {
  const byId = new Map(table.prices.map((p) => [p.id, p]));
  const items = raw.map((i): LineItem => {
    const found = byId.get(i.priceId);
    if (found && found.unit !== i.unit) throw new Error(`price ${i.priceId} is per ${found.unit}, the item counts ${i.unit}`);
    const usd = found && region === table.region ? found.usd : null;
    const why = !found
      ? `no price in pricing/aws-prices.json: it has no entry ${i.priceId}`
      : region !== table.region
        ? `no price: pricing/aws-prices.json holds ${table.region} prices, the stack is in ${region}`
        : `no price in pricing/aws-prices.json (${found.note})`;
    const price = { usd };
    const missing = [i.missing, price.usd === null ? why : undefined]
      .filter((m) => m !== undefined)
      .join("; ");
    return {
      ...i,
      usd: price.usd !== null && i.quantity !== undefined ? price.usd * i.quantity : undefined,
      ...(missing ? { missing } : {}),
    };
  });
  const unpriced = items.filter((i) => i.usd === undefined);
  const knownUsd = items.reduce((s, i) => s + (i.usd ?? 0), 0);
  return { title, items, knownUsd, unpriced };
}

/** This program's stack as configured: hosts, volumes, snapshots, buckets, NLB (pair only), alarms. */
export function selfManagedEstimate(cfg: StackConfig, usage: Usage, table: PriceTable): Estimate {
  const hosts = hostCount(cfg);
  const v = cfg.dataVolume;
  const items: Omit<LineItem, "usd">[] = [
    { what: `${hosts} × ${cfg.instanceType} (${cfg.region}), always on`, priceId: `ec2.instance-hour.${cfg.instanceType}`, quantity: hosts * HOURS_PER_MONTH, unit: "instance-hour" },
    { what: `${hosts} × gp3 root volume ${cfg.rootVolumeSizeGiB} GiB`, priceId: "ebs.gp3.gib-month", quantity: hosts * cfg.rootVolumeSizeGiB, unit: "GiB-month" },
    { what: `${hosts} × gp3 data volume ${v.sizeGiB} GiB`, priceId: "ebs.gp3.gib-month", quantity: hosts * v.sizeGiB, unit: "GiB-month" },
    { what: `${hosts} × data volume IOPS above the included ${GP3.minIops}`, priceId: "ebs.gp3.iops-month", quantity: hosts * Math.max(0, v.iops - GP3.minIops), unit: "IOPS-month" },
    {
      what: `${hosts} × data volume throughput above the included ${GP3.minThroughput} MiB/s`,
      priceId: "ebs.gp3.mibps-month",
      quantity: hosts * Math.max(0, v.throughputMiBps - GP3.minThroughput),
      unit: "MiB/s-month",
    },
    {
      what: `data volume snapshots (daily, kept ${cfg.operations.snapshotRetentionDays} days)`,
      priceId: "ebs.snapshot.gib-month",
      quantity: usage.snapshotGiB,
      unit: "GiB-month",
      ...(usage.snapshotGiB === undefined ? { missing: "snapshot size depends on changed blocks: give --snapshot-gib (what the account's snapshots hold)" } : {}),
    },
    {
      what: `S3: logs ${usage.logsGiBPerDay} GiB/day × ${days(cfg.retention.logs)} d + traces ${usage.tracesGiBPerDay} GiB/day × ${days(cfg.retention.traces)} d`,
      priceId: "s3.standard.gib-month",
      quantity: usage.logsGiBPerDay * days(cfg.retention.logs) + usage.tracesGiBPerDay * days(cfg.retention.traces),
      unit: "GiB-month",
    },
    { what: `CloudWatch status-check alarms (2 per host)`, priceId: "cloudwatch.alarm-month", quantity: 2 * hosts, unit: "alarm-month" },
  ];
  if (hosts > 1) {
    items.push({ what: "internal NLB in front of the collectors (NLCUs not counted)", priceId: "elb.nlb.hour", quantity: HOURS_PER_MONTH, unit: "NLB-hour" });
  }
  const remoteWrite = cfg.remoteWrite;
  if (remoteWrite) items.push(...ampItems(usage));
  return estimate(cfg.region, `self-managed stack ${cfg.stack} (${hosts} host${hosts > 1 ? "s" : ""}${remoteWrite ? ", remote write to AMP" : ""})`, items, table);
}

/** AMP samples (one replica's: AMP does not charge deduplicated HA samples twice). */
function ampItems(usage: Usage): Omit<LineItem, "usd">[] {
  const needSeries = usage.activeSeries === undefined ? { missing: "give --series (active series per Prometheus replica)" } : {};
  return [
    {
      what: `AMP samples ingested (${usage.activeSeries ?? "?"} series every ${ALERTING_TIMING.scrapeInterval})`,
      priceId: "amp.samples-ingested",
      quantity: usage.activeSeries === undefined ? undefined : samplesPerMonth(usage.activeSeries),
      unit: "sample",
      ...needSeries,
    },
  ];
}

/** The same metrics load on AMP + Amazon Managed Grafana instead of Prometheus and Grafana on EC2. */
export function managedEstimate(cfg: StackConfig, usage: Usage, table: PriceTable): Estimate {
  return estimate(
    cfg.region,
    `AMP + Amazon Managed Grafana for the metrics of ${cfg.stack} (logs and traces still need Loki/Tempo hosting)`,
    [
      ...ampItems(usage),
      {
        what: `AMP storage (retention ${cfg.retention.metrics.text}; bytes per sample not known)`,
        priceId: "amp.storage.gb-month",
        unit: "GB-month",
        missing: "AMP's stored bytes per sample (typically 1-2 bytes plus metadata, says the pricing page) cannot be derived offline",
      },
      { what: `Managed Grafana editors (at least 1 per workspace)`, priceId: "amg.editor-month", quantity: Math.max(1, usage.grafanaEditors), unit: "active editor-month" },
      { what: `Managed Grafana viewers`, priceId: "amg.viewer-month", quantity: usage.grafanaViewers, unit: "active viewer-month" },
    ],
    table,
  );
}

const usd = (n: number) => `$${n.toFixed(2)}`;
const qty = (n: number) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 }));

export function formatEstimate(e: Estimate): string {
  const lines = [e.title];
  for (const i of e.items) {
    const q = i.quantity === undefined ? "?" : `${qty(i.quantity)} ${i.unit}`;
    lines.push(`  ${(i.usd === undefined ? "not priced" : usd(i.usd)).padStart(11)}  ${i.what}: ${q}`);
    if (i.missing) lines.push(`               ${i.missing}`);
  }
  const partial = e.unpriced.length > 0 ? ` (PARTIAL: ${e.unpriced.length} of ${e.items.length} items have no price or quantity)` : "";
  lines.push(`  total known: ${usd(e.knownUsd)} per month${partial}`);
  return lines.join("\n");
}
