import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { dataProtection } from "./data-protection";
import { PROGRAM_TAG_PREFIX, resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface DataVolumeBackupsArgs {
  labels: StackLabels;
  /** Days a daily snapshot is kept (`snapshotRetentionDays`). */
  snapshotRetentionDays: number;
  /** `protectData`: the policy cannot be deleted by Pulumi and is left in AWS if it ever is (data-protection.ts). */
  protectData: boolean;
}

/** Tag that marks a stack's data volume for its snapshot policy. */
export function backupTargetTags(cfg: Pick<StackLabels, "project" | "stack">): Record<string, string> {
  return { [`${PROGRAM_TAG_PREFIX}backup`]: `${cfg.project}-${cfg.stack}-data` };
}

/** The daily snapshot's UTC start time: off-peak for most European and American teams. */
export const SNAPSHOT_TIME_UTC = "03:00";

/**
 * Daily crash-consistent snapshots of the data volume by Data Lifecycle Manager, kept `snapshotRetentionDays`.
 * Restoring is a runbook (docs/operations.md: "Restore from a snapshot"). Prometheus replays its WAL and Loki/Tempo
 * their WALs after a restore, so a crash-consistent snapshot is enough.
 */
export class DataVolumeBackups extends pulumi.ComponentResource {
  readonly policy: aws.dlm.LifecyclePolicy;

  constructor(name: string, args: DataVolumeBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:operations:DataVolumeBackups", name, {}, opts);
    const cfg = args.labels;
    const child = { parent: this };

    const role = new aws.iam.Role(
      name,
      {
        description: `DLM snapshots of the ${cfg.project}/${cfg.stack} data volume`,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: resourceTags(cfg, name),
      },
      child,
    );
    new aws.iam.RolePolicyAttachment(
      name,
      { role: role.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole" },
      child,
    );

    this.policy = new aws.dlm.LifecyclePolicy(
      name,
      {
        description: `Daily snapshots of ${cfg.project}/${cfg.stack} monitoring data`,
        executionRoleArn: role.arn,
        state: "ENABLED",
        policyDetails: {
          resourceTypes: ["VOLUME"],
          targetTags: backupTargetTags(cfg),
          schedules: [
            {
              name: `daily-${args.snapshotRetentionDays}d`,
              createRule: { interval: 24, intervalUnit: "HOURS", times: SNAPSHOT_TIME_UTC },
              retainRule: { count: args.snapshotRetentionDays },
              copyTags: true,
              tagsToAdd: { [`${PROGRAM_TAG_PREFIX}snapshot`]: "daily" },
            },
          ],
        },
        tags: resourceTags(cfg, name),
      },
      // The snapshots are the last copy of prd data: the policy that makes and keeps them is protected, and retained
      // if the stack is destroyed (the retained data volume keeps its backup tag, so its snapshots go on).
      { parent: this, ...dataProtection(args) },
    );
    this.registerOutputs({ policy: this.policy, policyArn: this.policy.arn });
  }
}
