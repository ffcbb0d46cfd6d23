/**
 * A webhook receiver on 127.0.0.1 standing in for Slack/PagerDuty/webhook endpoints: every POST is recorded with
 * its arrival time, path and JSON body, and answered 200 `ok` (what Slack's incoming webhooks answer).
 * Receiver `<name>` is given the URL `http://127.0.0.1:<port>/<name>`, so the path tells which receiver sent it.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { waitFor } from "../support/daemons";

export interface Received {
  /** Arrival time, ms since epoch. */
  at: number;
  /** Receiver name (the URL path without the leading slash). */
  receiver: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  private server?: http.Server;
  private _port = 0;

  get port(): number {
    return this._port;
  }

  url(receiver: string): string {
    return `http://127.0.0.1:${this._port}/${encodeURIComponent(receiver)}`;
  }

  async start(): Promise<number> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* keep the text */
        }
        if (req.method === "POST") {
          this.received.push({ at: Date.now(), receiver: decodeURIComponent((req.url ?? "/").slice(1).split("?")[0]), body });
        }
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this._port = (server.address() as AddressInfo).port;
    return this._port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The first message (arrived at or after `since`) that `match` accepts; bounded by `timeoutMs`. */
  async waitFor(what: string, timeoutMs: number, match: (r: Received) => boolean, since = 0): Promise<Received> {
    return waitFor(what, timeoutMs, () => this.received.find((r) => r.at >= since && match(r)), {
      intervalMs: 100,
      detail: () => `received so far:\n${this.received.map((r) => `${new Date(r.at).toISOString()} ${r.receiver} ${describe(r)}`).join("\n") || "(nothing)"}`,
    });
  }
}

/** A Slack incoming-webhook message as Alertmanager's slack notifier sends it. */
export interface SlackMessage {
  channel?: string;
  /** `FIRING` or `RESOLVED`, from the rendered title template `[STATUS(:n)] alertname`. */
  status?: string;
  alertname?: string;
  title: string;
  text: string;
  color?: string;
}

export function slackMessage(r: Received): SlackMessage | undefined {
  const a = r.body?.attachments?.[0];
  if (!a || typeof a.title !== "string") return undefined;
  const m = /^\[(FIRING|RESOLVED)(?::\d+)?\] (\S+)/.exec(a.title);
  return { channel: r.body.channel, status: m?.[1], alertname: m?.[2], title: a.title, text: String(a.text ?? ""), color: a.color };
}

function describe(r: Received): string {
  const s = slackMessage(r);
  if (s) return `slack ${s.title}`;
  return JSON.stringify(r.body).slice(0, 300);
}
