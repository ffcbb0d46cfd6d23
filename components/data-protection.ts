import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";

/**
 * Options for resources holding data that must survive (data volume, telemetry buckets, the snapshot policy, the
 * host-alarm key). Set them on the resource itself, never only on a component: Pulumi passes `protect` down to
 * children but not `retainOnDelete`. In a protected stack
 * Pulumi refuses to delete them (`protect`) and, if the protection is lifted on purpose, leaves them in AWS
 * instead of deleting them (`retainOnDelete`). Nothing is ever lost by a `pulumi destroy` or a refactor.
 */
export function dataProtection(cfg: Pick<StackConfig, "protectData">): pulumi.CustomResourceOptions {
  return cfg.protectData ? { protect: true, retainOnDelete: true } : {};
}
