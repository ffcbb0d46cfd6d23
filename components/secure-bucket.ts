import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { dataProtection } from "./data-protection";

export interface SecureBucketArgs {
  /** Days after which current objects expire; undefined keeps them. */
  expireAfterDays?: number;
  /** Days after which replaced (noncurrent) versions expire. */
  noncurrentVersionExpireAfterDays: number;
  /** Allow `pulumi destroy` to delete a non-empty bucket (never for protected data). */
  forceDestroy: boolean;
  /**
   * The bucket holds data that must survive: `protect` and `retainOnDelete` go on the bucket resource itself
   * (retainOnDelete is not inherited from a component, so passing it to this component would not retain the bucket).
   */
  protectData: boolean;
  tags: Record<string, string>;
}

/**
 * A private S3 bucket the way Security Hub wants it (S3.1/S3.8 public access blocked, S3.5 TLS only, S3.14
 * versioning), encrypted by default, with lifecycle expiry and aborted multipart uploads cleaned up.
 */
export class SecureBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: SecureBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:storage:SecureBucket", name, {}, opts);
    const child = { parent: this };

    this.bucket = new aws.s3.Bucket(
      name,
      { forceDestroy: args.forceDestroy, tags: args.tags },
      { parent: this, ...dataProtection({ protectData: args.protectData }) },
    );
    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      name,
      {
        bucket: this.bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      child,
    );
    new aws.s3.BucketOwnershipControls(name, { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, child);
    new aws.s3.BucketServerSideEncryptionConfiguration(
      name,
      {
        bucket: this.bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
      },
      child,
    );
    new aws.s3.BucketVersioning(name, { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } }, child);
    new aws.s3.BucketLifecycleConfiguration(
      name,
      {
        bucket: this.bucket.id,
        rules: [
          ...(args.expireAfterDays === undefined
            ? []
            : [{ id: "expire-after-retention", status: "Enabled", filter: {}, expiration: { days: args.expireAfterDays } }]),
          // Versioning keeps overwritten and deleted objects; keep them only briefly (recovery from a bad write).
          {
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionExpireAfterDays },
          },
          { id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
          // Delete markers left behind by expiry would otherwise accumulate forever in a versioned bucket.
          { id: "remove-expired-delete-markers", status: "Enabled", filter: {}, expiration: { expiredObjectDeleteMarker: true } },
        ],
      },
      child,
    );
    new aws.s3.BucketPolicy(
      name,
      {
        bucket: this.bucket.id,
        policy: this.bucket.arn.apply((arn) => JSON.stringify(denyInsecureTransportPolicy(arn))),
      },
      // The public-access block must exist first, or S3 may briefly evaluate the policy without it.
      { parent: this, dependsOn: [publicAccess] },
    );

    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}

/** Denies every request that does not use TLS (Security Hub S3.5). */
export function denyInsecureTransportPolicy(bucketArn: string): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  };
}
