import type { StackConfig } from "./config";

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
