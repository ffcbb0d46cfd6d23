/**
 * Stable Grafana uids, in a module of its own (no import of the dashboard builders or of the Grafana provisioning),
 * so the host files can name a dashboard (rules/runbook-links.ts links runbook dashboards) without an import cycle.
 */
import { createHash } from "crypto";

/** Grafana's limit on dashboard uids. */
export const MAX_UID_LENGTH = 40;

/** A uid derived from a name: lower-case slug, and a short hash of the name when the slug would be too long. */
export function stableUid(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  if (slug.length <= MAX_UID_LENGTH) return slug;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${slug.slice(0, MAX_UID_LENGTH - 9).replace(/-+$/, "")}-${hash}`;
}

