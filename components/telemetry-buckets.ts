import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";
import { ceilDays } from "../config/duration";
import { SecureBucket } from "./secure-bucket";
import { resourceTags } from "../config/tags";

export interface TelemetryBucketsArgs {
  config: StackConfig;
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
    const cfg = args.config;
    const bucket = (kind: "loki" | "tempo", retentionDays: number) =>
      new SecureBucket(
        `${name}-${kind}`,
        {
          expireAfterDays: lifecycleExpiryDays(retentionDays),
          noncurrentVersionExpireAfterDays: 1,
          forceDestroy: !cfg.protectData,
          protectData: cfg.protectData,
          tags: resourceTags(cfg, `${name}-${kind}`),
        },
        { parent: this },
      );
    this.loki = bucket("loki", ceilDays(cfg.retention.logs));
    this.tempo = bucket("tempo", ceilDays(cfg.retention.traces));
    this.registerOutputs({ lokiBucket: this.loki.name, tempoBucket: this.tempo.name });
  }
}

/** One day of grace after the service's own retention, so S3 never removes an object the service still indexes. */
export function lifecycleExpiryDays(retentionDays: number): number {
  return retentionDays + 1;
}
