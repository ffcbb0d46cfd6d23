/**
 * `appScrapeTargets`: applications Prometheus scrapes directly, each a job named after its service (not one of the
 * stack's own jobs) with `host:port` targets.
 */
import { type ConfigProblems, didYouMean, reportDuplicates, show } from "../config-problems";
import type { Reader } from "../reader";
import type { AppScrapeTarget } from "../stack-config";
import { STACK_JOBS } from "../../layout/host-layout";

export function readAppScrapeTargets(r: Reader, p: ConfigProblems, k: (key: string) => string): AppScrapeTarget[] {
  const key = k("appScrapeTargets");
  const raw = r.raw("appScrapeTargets");
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of {service, targets, metricsPath?, scheme?}, got ${show(raw)}`);
    return [];
  }
  const result: AppScrapeTarget[] = [];
  raw.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      p.add(at, `must be an object with service and targets, got ${show(item)}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const allowedFields = ["service", "targets", "metricsPath", "scheme"];
    for (const field of Object.keys(o)) {
      if (!allowedFields.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${allowedFields.join(", ")}${didYouMean(field, allowedFields)}`);
    }
    // The service becomes the Prometheus job label: keep it a plain label value that reads well in queries.
    const service = o.service;
    const serviceOk = typeof service === "string" && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(service);
    if (!serviceOk) p.add(`${at}.service`, `${show(service)} must be lower-case letters, digits, dashes and underscores (at most 63)`);
    const targets = o.targets;
    let targetsOk = Array.isArray(targets) && targets.length > 0;
    if (!targetsOk) {
      p.add(`${at}.targets`, `must be a non-empty list of "host:port", got ${show(targets)}`);
    } else {
      (targets as unknown[]).forEach((t, j) => {
        if (typeof t !== "string" || !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(t) || Number(t.split(":")[1]) > 65535) {
          p.add(`${at}.targets[${j}]`, `${show(t)} must be host:port (like 10.0.1.5:8080 or api.internal:9102)`);
          targetsOk = false;
        }
      });
      reportDuplicates(p, `${at}.targets`, (targets as unknown[]).filter((t): t is string => typeof t === "string"));
    }
    const metricsPath = o.metricsPath;
    if (metricsPath !== undefined && (typeof metricsPath !== "string" || !/^\/\S*$/.test(metricsPath))) {
      p.add(`${at}.metricsPath`, `${show(metricsPath)} must be a URL path starting with / (like /metrics)`);
    }
    const scheme = o.scheme;
    if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
      p.add(`${at}.scheme`, `${show(scheme)} is not allowed; allowed: http, https`);
    }
    if (serviceOk && targetsOk) {
      result.push({
        service: service as string,
        targets: targets as string[],
        ...(typeof metricsPath === "string" ? { metricsPath } : {}),
        ...(scheme === "http" || scheme === "https" ? { scheme } : {}),
      });
    }
  });
  reportDuplicates(p, `${key}[].service`, raw.map((x) => (x as Record<string, unknown> | null)?.service).filter((s): s is string => typeof s === "string"));
  for (const [i, t] of result.entries()) {
    if ((Object.values(STACK_JOBS) as string[]).includes(t.service)) {
      p.add(
        `${key}[${i}].service`,
        `${show(t.service)} is the name of a scrape job of the monitoring stack itself; reserved: ${Object.values(STACK_JOBS).join(", ")}`,
      );
    }
  }
  return result;
}
