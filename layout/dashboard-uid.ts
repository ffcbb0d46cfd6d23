/**
 * Stable Grafana uids, in a module of its own (no import of the dashboard builders or of the Grafana provisioning),
 * so the host files can name a dashboard (rules/runbook-links.ts links runbook dashboards) without an import cycle.
 */
import { createHash } from "crypto";
import { slug } from "./slug";

/** Grafana's limit on dashboard uids. */
export const MAX_UID_LENGTH = 40;

/** A uid derived from a name: lower-case slug, and a short hash of the name when the slug would be too long. */
export function stableUid(name: string): string {
  const s = slug(name);
  if (s.length <= MAX_UID_LENGTH) return s;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${s.slice(0, MAX_UID_LENGTH - 9).replace(/-+$/, "")}-${hash}`;
}

