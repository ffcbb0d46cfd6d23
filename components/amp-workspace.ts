import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { dataProtection } from "./data-protection";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface AmpWorkspaceArgs {
  labels: StackLabels;
  /** The region the workspace is in (the stack's). */
  region: string;
  /** An existing workspace's id (`remoteWrite.workspace`); absent: one is created (`workspace: create`). */
  workspaceId?: string;
  /** `protectData`: a created workspace cannot be deleted by Pulumi and is left in AWS if it ever is. */
  protectData: boolean;
}

/**
 * The Amazon Managed Service for Prometheus workspace remote write goes to (`remoteWrite`): an existing one, named
 * by its id (nothing is created; its ARN and endpoint follow from region, account and id), or one created here.
 * A created workspace holds the stack's metrics: protected and retained like the other data (dataProtection).
 */
export class AmpWorkspace extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;
  /** `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/` */
  readonly prometheusEndpoint: pulumi.Output<string>;
  readonly workspace?: aws.amp.Workspace;

  constructor(name: string, args: AmpWorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:metrics:AmpWorkspace", name, {}, opts);
    const cfg = args.labels;
    const child = { parent: this };
    const id = args.workspaceId;
    if (id === undefined) {
      this.workspace = new aws.amp.Workspace(
        name,
        { alias: `${cfg.project}-${cfg.stack}`, tags: resourceTags(cfg, name) },
        { ...child, ...dataProtection(args) },
      );
      this.arn = this.workspace.arn;
      this.prometheusEndpoint = this.workspace.prometheusEndpoint;
    } else {
      const caller = aws.getCallerIdentityOutput({}, child);
      const partition = aws.getPartitionOutput({}, child);
      this.arn = pulumi.interpolate`arn:${partition.partition}:aps:${args.region}:${caller.accountId}:workspace/${id}`;
      this.prometheusEndpoint = pulumi.interpolate`https://aps-workspaces.${args.region}.${partition.dnsSuffix}/workspaces/${id}/`;
    }
    this.registerOutputs({ arn: this.arn, prometheusEndpoint: this.prometheusEndpoint, ...(this.workspace ? { workspace: this.workspace } : {}) });
  }
}
