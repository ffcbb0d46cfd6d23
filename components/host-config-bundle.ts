import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { SecureBucket } from "./secure-bucket";
import { resourceTags } from "../config/tags";
import { bundleObjectKey } from "../layout/host-file";
import type { StackLabels } from "./stack-labels";

export interface HostConfigBundleArgs {
  /** Names and tags; the stack also names the bundles' keys (layout/host-file.ts `bundleObjectKey`). */
  labels: StackLabels;
  /** Every host's rendered bundle (hostfiles/bundle.ts `renderBundle`), host 0 first (host 1 is a pair's second). */
  contents: pulumi.Input<string>[];
}

/** Days an overwritten bundle stays retrievable, to roll a host back to an earlier config by hand. */
export const BUNDLE_HISTORY_DAYS = 30;

/**
 * The private bucket holding the host's config bundle (every file that goes onto the host but user data). Pulumi
 * uploads a new version when any rendered file changes; the host notices the new ETag and applies it, so a config
 * change never replaces the instance. A pair's hosts each get a bundle of their own in the same bucket (they differ in
 * the addresses that tie the pair together).
 */
export class HostConfigBundle extends pulumi.ComponentResource {
  readonly bucket: SecureBucket;
  readonly objectKey: string;
  readonly object: aws.s3.BucketObjectv2;
  /** Every host's bundle key and object, host 0 first. */
  readonly objectKeys: string[];
  readonly objects: aws.s3.BucketObjectv2[];

  constructor(name: string, args: HostConfigBundleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:storage:HostConfigBundle", name, {}, opts);
    const cfg = args.labels;
    this.objectKey = bundleObjectKey(cfg.stack);
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
    this.objectKeys = args.contents.map((_, host) => bundleObjectKey(cfg.stack, host));
    this.objects = this.objectKeys.map((key, host) => {
      const n = host === 0 ? name : `${name}-${host}`;
      return new aws.s3.BucketObjectv2(
        n,
        { bucket: this.bucket.name, key, content: args.contents[host], contentType: "application/json", tags: resourceTags(cfg, n) },
        { parent: this },
      );
    });
    this.object = this.objects[0];
    this.registerOutputs({ bucket: this.bucket, object: this.object, objects: this.objects, objectKey: this.objectKey, objectKeys: this.objectKeys, bucketName: this.bucket.name, etag: this.object.etag });
  }
}
