import type { StackConfig } from "../config/stack-config";

/**
 * Whose a resource is: the project and stack in its names and descriptions, and its tags (config/tags.ts
 * `resourceTags`: Name, environment, stack and the stack's extra `tags`). Every component takes these next to the
 * few values of its own; none takes the whole stack config.
 */
export type StackLabels = Pick<StackConfig, "project" | "stack" | "environment" | "tags">;

export function stackLabels(cfg: StackLabels): StackLabels {
  return { project: cfg.project, stack: cfg.stack, environment: cfg.environment, tags: cfg.tags };
}
