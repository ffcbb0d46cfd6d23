/**
 * A name as it appears in file names, directory names and Grafana uids on the host (`slo-<slug>.yml`,
 * `team-<slug>`, runbook paths): lower case, every run of other characters one dash, no dash at either end.
 */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}
