import type { StackConfig } from "./stack-config";

/** Tag keys the program sets on every resource; `tags` in the stack config may not override them. */
export const PROGRAM_TAG_KEYS = ["Name", "environment", "stack", "managed-by"] as const;
/** Prefix of the program's own marker tags (the data volume's backup target tag, the snapshots' tag). */
export const PROGRAM_TAG_PREFIX = "monitoring-hosts:";
/**
 * AWS allows 50 user tags per resource. The most-tagged resources are the DLM snapshots: the program's four tags,
 * the volume's backup-target tag (copied) and the snapshot tag; the stack's extra tags get the rest.
 */
export const MAX_EXTRA_TAGS = 50 - PROGRAM_TAG_KEYS.length - 2;

/** Tags on every taggable resource: Name, environment and stack always, plus the stack's extra tags. */
export function resourceTags(cfg: Pick<StackConfig, "environment" | "stack" | "project" | "tags">, name: string): Record<string, string> {
  return {
    ...cfg.tags,
    Name: name,
    environment: cfg.environment,
    stack: `${cfg.project}/${cfg.stack}`,
    "managed-by": "pulumi",
  };
}
