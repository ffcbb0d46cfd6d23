/**
 * A synthetic application on 127.0.0.1 that exposes the metric contract the SLO rules read (rules/slo-conventions.ts
 * HTTP_METRICS.otel and the saturation/health series), the way Prometheus sees it for the dev stack: through the
 * collector's Prometheus exporter, i.e. every series carries the application's own `job` (service.name) and
 * `instance` labels, plus `target_info`.
 *
 * Modes:
 *   healthy  requests answer 201 within 50 ms
 *   failing  every request answers 500
 *   slow     requests answer 201 but take 0.8 s (above the 400 ms latency threshold)
 *   stopped  the listener is closed and every open connection dropped: scrapes fail (connection refused)
 *
 * Request counters advance with wall time at `requestsPerSecond` in the current mode (integer counts), so rates
 * are exact whatever the scrape interval. Starting again after `stop()` resets the counters, as a restarted
 * process would.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { HTTP_METRICS } from "../../rules/slo-conventions";

export type AppMode = "healthy" | "failing" | "slow" | "stopped";

export interface SyntheticAppOptions {
  service: string;
  instance?: string;
  route: string;
  method: string;
  /** Histogram boundaries in seconds (the SLO's declared buckets; must include the latency threshold). */
  buckets: number[];
  requestsPerSecond?: number;
  pool?: string;
  /**
   * More services behind the same endpoint (what the collector's exporter shows for several applications), always
   * healthy: every service of a stack has its telemetry, whatever the stack's SLO list.
   */
  others?: SyntheticService[];
}

/** Another service the endpoint exposes, with its own job label, route and buckets. */
export interface SyntheticService {
  service: string;
  route: string;
  method: string;
  buckets: number[];
}

/** One status code's requests: count, sum of durations, and per-bucket counts (non-cumulative, +Inf last). */
interface Series {
  count: number;
  sum: number;
  perBucket: number[];
}

const LATENCY = { healthy: 0.05, slow: 0.8 } as const;

export class SyntheticApp {
  readonly opts: Required<SyntheticAppOptions>;
  private server?: http.Server;
  private _port = 0;
  private _mode: AppMode = "stopped";
  private lastTick = 0;
  private startedAt = 0;
  private carry = 0;
  private series = new Map<string, Series>();
  /** Every scrape served: time (ms since epoch). */
  readonly scrapes: number[] = [];

  constructor(o: SyntheticAppOptions) {
    this.opts = { instance: "synthetic-1", requestsPerSecond: 20, pool: "appointments-db", others: [], ...o };
  }

  get port(): number {
    return this._port;
  }

  get mode(): AppMode {
    return this._mode;
  }

  /** Listens on 127.0.0.1 (`port` 0: any free port; later starts reuse the same port). Mode becomes healthy. */
  async start(port = this._port): Promise<number> {
    if (this.server) throw new Error("synthetic app already running");
    this.series.clear();
    this.carry = 0;
    this.lastTick = Date.now();
    this.startedAt = this.lastTick;
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this._port = (server.address() as AddressInfo).port;
    this._mode = "healthy";
    return this._port;
  }

  /** Closes the listener and drops every connection. Returns the time (ms since epoch) it was fully stopped. */
  async stop(): Promise<number> {
    const server = this.server;
    if (!server) return Date.now();
    this.server = undefined;
    this._mode = "stopped";
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return Date.now();
  }

  /** healthy | failing | slow while running; `stopped` is `stop()`. */
  setMode(mode: Exclude<AppMode, "stopped">): void {
    if (!this.server) throw new Error("synthetic app is stopped; start() it first");
    this.advance();
    this._mode = mode;
  }

  /** Requests "served" so far, in the current mode, up to now. */
  private advance(): void {
    const now = Date.now();
    const exact = ((now - this.lastTick) / 1000) * this.opts.requestsPerSecond + this.carry;
    const n = Math.floor(exact);
    this.carry = exact - n;
    this.lastTick = now;
    if (n === 0 || this._mode === "stopped") return;
    const status = this._mode === "failing" ? "500" : "201";
    const latency = this._mode === "slow" ? LATENCY.slow : LATENCY.healthy;
    // One series per label set: modes with the same status share it (duplicate series would fail the scrape).
    const s = this.series.get(status) ?? { count: 0, sum: 0, perBucket: new Array(this.opts.buckets.length + 1).fill(0) };
    s.count += n;
    s.sum += n * latency;
    const i = this.opts.buckets.findIndex((le) => latency <= le);
    s.perBucket[i === -1 ? this.opts.buckets.length : i] += n;
    this.series.set(status, s);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  metrics(): string {
    this.advance();
    const o = this.opts;
    const m = HTTP_METRICS.otel;
    const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    const labelsOf = (job: string) => (l: Record<string, string>) =>
      `{${Object.entries({ job, instance: o.instance, ...l })
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",")}}`;
    const labels = labelsOf(o.service);
    // Healthy traffic of the other services: requests so far at the same rate, all fast and successful.
    const elapsed = Math.floor(((Date.now() - this.startedAt) / 1000) * o.requestsPerSecond);
    const histograms: { svc: SyntheticService; status: string; s: Series }[] = [
      ...[...this.series].map(([status, s]) => ({ svc: o as SyntheticService, status, s })),
      ...o.others.map((svc) => {
        const perBucket = new Array(svc.buckets.length + 1).fill(0);
        perBucket[Math.max(0, svc.buckets.findIndex((le) => LATENCY.healthy <= le))] = elapsed;
        return { svc, status: "201", s: { count: elapsed, sum: elapsed * LATENCY.healthy, perBucket } };
      }),
    ];
    const lines: string[] = [];
    lines.push("# HELP target_info Target metadata", "# TYPE target_info gauge");
    for (const svc of [o, ...o.others]) lines.push(`target_info${labelsOf(svc.service)({})} 1`);
    lines.push(`# HELP ${m.histogram} Duration of HTTP server requests.`, `# TYPE ${m.histogram} histogram`);
    for (const { svc, status, s } of histograms) {
      const l = labelsOf(svc.service);
      const base = { [m.route]: svc.route, [m.method]: svc.method, [m.status]: status };
      let cumulative = 0;
      svc.buckets.forEach((le, i) => {
        cumulative += s.perBucket[i];
        lines.push(`${m.bucket}${l({ ...base, le: String(le) })} ${cumulative}`);
      });
      lines.push(`${m.bucket}${l({ ...base, le: "+Inf" })} ${s.count}`);
      lines.push(`${m.histogram}_sum${l(base)} ${+s.sum.toFixed(6)}`);
      lines.push(`${m.count}${l(base)} ${s.count}`);
    }
    lines.push("# HELP db_client_connection_count Connections in the pool by state.", "# TYPE db_client_connection_count gauge");
    lines.push(`db_client_connection_count${labels({ db_client_connection_state: "used", db_client_connection_pool_name: o.pool })} 3`);
    lines.push(`db_client_connection_count${labels({ db_client_connection_state: "idle", db_client_connection_pool_name: o.pool })} 7`);
    lines.push("# HELP db_client_connection_max Maximum connections of the pool.", "# TYPE db_client_connection_max gauge");
    lines.push(`db_client_connection_max${labels({ db_client_connection_pool_name: o.pool })} 10`);
    return lines.join("\n") + "\n";
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
      this.scrapes.push(Date.now());
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(this.metrics());
      return;
    }
    res.writeHead(404).end();
  }
}
