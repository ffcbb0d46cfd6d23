import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "../config/stack-config";
import { SecureBucket } from "./secure-bucket";
import { resourceTags } from "../config/tags";

export interface HostConfigBundleArgs {
  config: StackConfig;
  /** Renders the bundle; it gets the bucket's name because the bundle names its own location. */
  render: (bucketName: pulumi.Output<string>) => pulumi.Input<string>;
}

/** Days an overwritten bundle stays retrievable, to roll a host back to an earlier config by hand. */
export const BUNDLE_HISTORY_DAYS = 30;

/** S3 key of a stack's bundle. The host's user data names this key, so it never changes with the bundle's content. */
export function bundleObjectKey(cfg: Pick<StackConfig, "stack">): string {
  return `hosts/${cfg.stack}/bundle.json`;
}

/**
 * The private bucket holding the host's config bundle (every file that goes onto the host but user data). Pulumi
 * uploads a new version when any rendered file changes; the host notices the new ETag and applies it, so a config
 * change never replaces the instance.
 */
export class HostConfigBundle extends pulumi.ComponentResource {
  readonly bucket: SecureBucket;
  readonly objectKey: string;
  readonly object: aws.s3.BucketObjectv2;

  constructor(name: string, args: HostConfigBundleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:storage:HostConfigBundle", name, {}, opts);
    const cfg = args.config;
    this.objectKey = bundleObjectKey(cfg);
    this.bucket = new SecureBucket(
      name,
      {
        noncurrentVersionExpireAfterDays: BUNDLE_HISTORY_DAYS,
        // Rendered from code at every `pulumi up`: nothing in it is lost with the bucket.
        forceDestroy: true,
        protectData: false,
        tags: resourceTags(cfg, name),
      },
      { parent: this },
    );
    this.object = new aws.s3.BucketObjectv2(
      name,
      {
        bucket: this.bucket.name,
        key: this.objectKey,
        content: args.render(this.bucket.name),
        contentType: "application/json",
        tags: resourceTags(cfg, name),
      },
      { parent: this },
    );
    this.registerOutputs({ bucket: this.bucket.name, objectKey: this.objectKey, etag: this.object.etag });
  }
}
