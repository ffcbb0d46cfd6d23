/**
 * How the collector's Prometheus exporter (otelcol-contrib v0.149.0, `exporter/prometheusexporter`, with the
 * stack's config: no `translation_strategy`, so `add_metric_suffixes` defaults to true) names the instruments an
 * application pushes over OTLP — re-derived here from the application's REAL metric data, so the SLO rules can be
 * tested against exactly the names the OTLP path produces. docs/connect-an-application.md states the same rules.
 *
 * The rules, and where they were read (the contrib repository is too large for a local snapshot here; its files
 * and prometheus/otlptranslator's were read from stored copies, see docs/connect-an-application.md):
 *   - metric name: the OTel name split on characters outside [a-zA-Z0-9:], joined with `_`; then the unit's
 *     Prometheus word appended unless already a token (`s` → `seconds`, `ms` → `milliseconds`, `By` → `bytes`, …;
 *     `1` → none; a unit in curly braces like `{connection}` → none); `_total` for monotonic sums; `_ratio` for
 *     gauges of unit `1`. (prometheus/otlptranslator metric_namer.go `normalizeName`/`unitMap`, unit_namer.go
 *     `buildUnitSuffixes`; used through otlptranslator.MetricNamer{WithMetricSuffixes} by the exporter's
 *     collector.go `configureMetricNamer`; `AddMetricSuffixes: true` in factory.go `createDefaultConfig`.)
 *   - non-monotonic sums (UpDownCounters) and gauges are gauges; histograms keep `_bucket`/`_sum`/`_count`.
 *   - labels: the data point's attributes (same escaping), `otel_scope_name`, `otel_scope_version`,
 *     `otel_scope_schema_url` (empty values are no label in Prometheus), `job` = service.name (prefixed
 *     `<service.namespace>/` when set), `instance` = service.instance.id (collector.go `getMetricMetadata`,
 *     utils.go `extractJob`/`extractInstance`).
 *   - `target_info`: one per resource that has BOTH a job and an instance (utils.go `resourceSignature` returns ""
 *     otherwise and collector.go `createTargetInfoMetrics` skips it), labelled with job, instance and every other
 *     resource attribute; service.name/namespace/instance.id themselves are removed.
 *
 * Input: the OpenTelemetry JS SDK's Prometheus exposition of the same MeterProvider (its `# TYPE`/`# UNIT` lines
 * carry the instrument kind and OTel unit; its names are the OTel names with `.` → `_`, no unit suffix, `_total`
 * on counters, and `target_info` holds the resource attributes).
 */

export interface Family {
  name: string;
  type: string;
  unit?: string;
  samples: { name: string; labels: Record<string, string>; value: string }[];
}

const UNIT_WORDS: Record<string, string> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  "1": "",
  "%": "percent",
};

/** Parses a Prometheus text exposition (one line per sample, labels without embedded `}`). */
export function parseExposition(text: string): Family[] {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: "untyped", samples: [] }));
    return f;
  };
  const familyOf = (sample: string) => {
    for (const suffix of ["_bucket", "_sum", "_count", ""]) {
      const base = suffix ? sample.slice(0, -suffix.length) : sample;
      if (sample.endsWith(suffix) && families.get(base)?.type === "histogram") return family(base);
    }
    return family(sample);
  };
  for (const line of text.split("\n")) {
    let m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      family(m[1]).type = m[2];
      continue;
    }
    m = /^# UNIT (\S+) (.+)$/.exec(line);
    if (m) {
      family(m[1]).unit = m[2];
      continue;
    }
    if (!line || line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`cannot parse exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    familyOf(m[1]).samples.push({ name: m[1], labels, value: m[3] });
  }
  return [...families.values()];
}

/** The collector's name for an instrument, from its escaped name, kind and OTel unit (rules above). */
export function collectorMetricName(escapedName: string, type: string, unit: string | undefined): string {
  let tokens = escapedName.split(/[^a-zA-Z0-9:]+/).filter(Boolean);
  if (type === "counter") tokens = tokens.filter((t, i) => !(t === "total" && i === tokens.length - 1));
  const [main, per] = (unit ?? "").split("/", 2).map((u) => u.trim());
  const word = main && !/[{}]/.test(main) ? (UNIT_WORDS[main] ?? main) : "";
  if (word && !tokens.includes(word)) tokens.push(word);
  if (per && !/[{}]/.test(per)) tokens.push(`per_${{ s: "second", m: "minute", h: "hour", d: "day" }[per] ?? per}`);
  if (type === "counter") tokens.push("total");
  if (unit === "1" && type === "gauge") tokens = [...tokens.filter((t) => t !== "ratio"), "ratio"];
  return tokens.join("_");
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/**
 * The exposition the collector's Prometheus exporter would serve for the application whose JS-exporter text is
 * `jsText` (what Prometheus scrapes as job `otelcol-apps` with honor_labels: the series keep the app's job).
 */
export function collectorExposition(jsText: string): string {
  const families = parseExposition(jsText);
  const target = families.find((f) => f.name === "target_info")?.samples[0]?.labels;
  if (!target) throw new Error("the exposition has no target_info (resource attributes)");
  const job = target.service_namespace ? `${target.service_namespace}/${target.service_name}` : target.service_name;
  const instance = target.service_instance_id;
  if (!job) throw new Error("the resource has no service.name: the collector would write no job label");
  const identity: Record<string, string> = { job, ...(instance ? { instance } : {}) };
  const out: string[] = [];
  if (instance) {
    const rest = Object.fromEntries(Object.entries(target).filter(([k]) => !["service_name", "service_namespace", "service_instance_id"].includes(k)));
    out.push("# TYPE target_info gauge", `target_info${labelText({ ...rest, ...identity })} 1`);
  }
  for (const f of families) {
    if (f.name === "target_info") continue;
    const name = collectorMetricName(f.name, f.type, f.unit);
    out.push(`# TYPE ${name} ${f.type}`);
    for (const s of f.samples) {
      const suffix = f.type === "histogram" ? s.name.slice(f.name.length) : "";
      out.push(`${name}${suffix}${labelText({ ...s.labels, ...identity })} ${s.value}`);
    }
  }
  return out.join("\n") + "\n";
}

/**
 * Stands in for the monitoring host's collector on the OTLP path: on 127.0.0.1, every GET of its exposition reads
 * the application's current metrics (its SDK's Prometheus exporter) and serves them as the collector's Prometheus
 * exporter would name them. When the application is gone it serves no series of it, as the collector does once
 * the application's metrics expired (the host waits OTEL_APP_METRIC_EXPIRATION for that; here it is immediate).
 */
export class CollectorStandIn {
  private server?: import("http").Server;
  private _port = 0;
  /** Every exposition served (the last one), for assertions. */
  last = "";

  constructor(private readonly appMetricsUrl: string) {}

  get port(): number {
    return this._port;
  }

  async start(): Promise<CollectorStandIn> {
    const http = await import("http");
    const server = http.createServer((req, res) => {
      fetch(this.appMetricsUrl, { signal: AbortSignal.timeout(2_000) })
        .then(async (r) => (r.ok ? collectorExposition(await r.text()) : ""))
        .catch(() => "")
        .then((body) => {
          this.last = body;
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
        });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this._port = (server.address() as import("net").AddressInfo).port;
    return this;
  }

  async stop(): Promise<number> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      const closed = new Promise<void>((r) => s.close(() => r()));
      s.closeAllConnections(); // Prometheus keeps its scrape connection alive
      await closed;
    }
    return Date.now();
  }
}
