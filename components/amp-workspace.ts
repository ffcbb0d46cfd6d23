import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";
import { dataProtection } from "./data-protection";
import { resourceTags } from "../config/tags";

export interface AmpWorkspaceArgs {
  config: StackConfig & { remoteWrite: NonNullable<StackConfig["remoteWrite"]> };
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
    const cfg = args.config;
    const child = { parent: this };
    const id = cfg.remoteWrite.workspaceId;
    if (id === undefined) {
      this.workspace = new aws.amp.Workspace(
        name,
        { alias: `${cfg.project}-${cfg.stack}`, tags: resourceTags(cfg, name) },
        { ...child, ...dataProtection(cfg) },
      );
      this.arn = this.workspace.arn;
      this.prometheusEndpoint = this.workspace.prometheusEndpoint;
    } else {
      const caller = aws.getCallerIdentityOutput({}, child);
      const partition = aws.getPartitionOutput({}, child);
      this.arn = pulumi.interpolate`arn:${partition.partition}:aps:${cfg.region}:${caller.accountId}:workspace/${id}`;
      this.prometheusEndpoint = pulumi.interpolate`https://aps-workspaces.${cfg.region}.${partition.dnsSuffix}/workspaces/${id}/`;
    }
    this.registerOutputs({ arn: this.arn, prometheusEndpoint: this.prometheusEndpoint });
  }
}
