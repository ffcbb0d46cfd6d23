/**
 * Rendering a host's service config files for a test: both the structural spec (tests/service-configs.spec.ts) and the
 * one that runs the real validators and daemons (tests/service-configs-validators.spec.ts) read the same files.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { loadStackConfig } from "../../config/loader";
import type { StackConfig } from "../../config/stack-config";
import { FileConfigSource } from "../../config/config-source";
import { serviceFiles } from "../../hostfiles/services";
import { BundleContext, HostFile, placeholderBundleContext } from "../../layout/host-file";
import { stackConfig, SENTINEL, TEST_SECRETS } from "./stacks";

export const REPO = path.resolve(__dirname, "../..");
export type Doc = Record<string, any>;
/** The committed stacks. */
export const STACKS = ["dev", "prd"];

/** Applications scraped directly (appScrapeTargets), one plain and one over https with its own metrics path. */
export const APPS = [
  { service: "appointments-api", targets: ["10.0.1.5:8080", "10.0.1.6:8080"], metricsPath: "/actuator/prometheus" },
  { service: "billing", targets: ["billing.internal:9102"], scheme: "https" },
];

export interface Rendered {
  stack: string;
  cfg: StackConfig;
  ctx: BundleContext;
  files: HostFile[];
}

export function render(stack: string, cfg: StackConfig = stackConfig(stack)): Rendered {
  const ctx = placeholderBundleContext(stack);
  return { stack, cfg, ctx, files: serviceFiles(cfg, ctx) };
}

export function file(r: Rendered, hostPath: string): HostFile {
  const f = r.files.find((x) => x.path === hostPath);
  assert.ok(f, `no rendered file ${hostPath}; rendered: ${r.files.map((x) => x.path).join(", ")}`);
  return f;
}

export function yamlOf(r: Rendered, hostPath: string): Doc {
  return YAML.parse(file(r, hostPath).content) as Doc;
}

/** Writes the files under `root` at their host paths. */
export function writeHostTree(root: string, files: HostFile[]): void {
  for (const f of files) {
    const p = path.join(root, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.content);
  }
}

/** prometheus.yml with its rule_files glob moved under the temp root, so promtool loads the rendered rules. */
export function pointRuleFilesAt(prometheusYml: string, root: string): string {
  const doc = YAML.parse(prometheusYml) as Doc;
  doc.rule_files = (doc.rule_files as string[]).map((glob) => path.join(root, glob));
  return YAML.stringify(doc);
}

/**
 * The one difference between the rendered alertmanager.yml and what Debian's amtool 0.25 can check: webhook
 * `url_file` only exists since Alertmanager 0.26 (the host runs a current release). Replaces each `url_file` with
 * a dummy `url`; nothing else.
 */
export function webhookUrlFileToUrlForAmtool025(alertmanagerYml: string): string {
  const doc = YAML.parse(alertmanagerYml) as Doc;
  for (const receiver of doc.receivers as Doc[]) {
    for (const webhook of (receiver.webhook_configs ?? []) as Doc[]) {
      if ("url_file" in webhook) {
        delete webhook.url_file;
        webhook.url = "https://webhook.invalid/amtool-0.25-check";
      }
    }
  }
  return YAML.stringify(doc);
}

/** Both documents without any webhook url/url_file: must be identical (the rewrite touched nothing else). */
export function withoutWebhookUrls(doc: Doc): Doc {
  const copy = structuredClone(doc);
  for (const receiver of copy.receivers as Doc[]) {
    for (const webhook of (receiver.webhook_configs ?? []) as Doc[]) {
      delete webhook.url;
      delete webhook.url_file;
    }
  }
  return copy;
}

/** A dev stack with an extra webhook receiver (neither committed stack has one). */
export function devWithWebhook(): StackConfig {
  const devFile = YAML.parse(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")) as Doc;
  const receivers = devFile.config["monitoring-hosts:alertReceivers"] as Doc[];
  const secrets = TEST_SECRETS.dev;
  return loadStackConfig(
    new FileConfigSource(
      "dev",
      undefined,
      { alertReceivers: [...receivers, { name: "ops-webhook", type: "webhook", severities: ["page", "watchdog"] }] },
      {
        ...secrets,
        alertReceiverSecrets: {
          ...(secrets.alertReceiverSecrets as Record<string, string>),
          "ops-webhook": `https://hooks.example.com/${SENTINEL}-webhook`,
        },
      },
    ),
  );
}
