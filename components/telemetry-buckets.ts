import * as pulumi from "@pulumi/pulumi";
import { SecureBucket } from "./secure-bucket";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface TelemetryBucketsArgs {
  labels: StackLabels;
  /** Days Loki keeps logs and Tempo keeps traces (`logsRetention`, `tracesRetention`, rounded up to whole days). */
  logsRetentionDays: number;
  tracesRetentionDays: number;
  /** `protectData`: the buckets cannot be deleted by Pulumi, nor emptied by a `pulumi destroy` (data-protection.ts). */
  protectData: boolean;
}

/**
 * Where Loki keeps logs and Tempo keeps traces. Loki and Tempo delete expired data themselves (Loki's compactor,
 * Tempo's block retention); the bucket lifecycle expires objects one day after the configured retention as a
 * backstop, never before it (Loki's docs: the bucket policy must be longer than the retention period).
 */
export class TelemetryBuckets extends pulumi.ComponentResource {
  readonly loki: SecureBucket;
  readonly tempo: SecureBucket;

  constructor(name: string, args: TelemetryBucketsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:storage:TelemetryBuckets", name, {}, opts);
    const bucket = (kind: "loki" | "tempo", retentionDays: number) =>
      new SecureBucket(
        `${name}-${kind}`,
        {
          expireAfterDays: lifecycleExpiryDays(retentionDays),
          noncurrentVersionExpireAfterDays: 1,
          forceDestroy: !args.protectData,
          protectData: args.protectData,
          tags: resourceTags(args.labels, `${name}-${kind}`),
        },
        { parent: this },
      );
    this.loki = bucket("loki", args.logsRetentionDays);
    this.tempo = bucket("tempo", args.tracesRetentionDays);
    this.registerOutputs({ loki: this.loki, tempo: this.tempo, lokiBucket: this.loki.name, tempoBucket: this.tempo.name });
  }
}

/** One day of grace after the service's own retention, so S3 never removes an object the service still indexes. */
export function lifecycleExpiryDays(retentionDays: number): number {
  return retentionDays + 1;
}
