import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { SecretValue } from "../config/secret-value";
import type { StackLabels } from "./stack-labels";
import { SECRET_IDS, secretFiles } from "../hostfiles/secrets";
import { resourceTags } from "../config/tags";

export interface HostSecretsArgs {
  labels: StackLabels;
  /** Grafana's admin password (`grafanaAdminPassword`, secret). */
  grafanaAdminPassword: SecretValue;
  /** The alert receivers; each with a secret (`alertReceiverSecrets`) gets a parameter, named by its name. */
  receivers: readonly { name: string; secret?: SecretValue }[];
  /** The OTLP server's private key (secret output). */
  otlpServerKeyPem: pulumi.Input<string>;
}

/**
 * One SSM SecureString parameter per secret the host needs (hostfiles/secrets.ts lists them). The host reads them
 * at boot with its instance role; their values never appear in user data, the config bundle or stack outputs.
 */
export class HostSecrets extends pulumi.ComponentResource {
  readonly parameters: aws.ssm.Parameter[];
  /** Each parameter's current version, by secret id: the bundle names them so a rotation reaches the host. */
  readonly versions: pulumi.Output<Record<string, number>>;

  constructor(name: string, args: HostSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:secrets:HostSecrets", name, {}, opts);
    const valueOf = (id: string): pulumi.Input<string> => {
      if (id === SECRET_IDS.grafanaAdminPassword) return pulumi.secret(args.grafanaAdminPassword.reveal());
      if (id === SECRET_IDS.otlpTlsKey) return pulumi.secret(args.otlpServerKeyPem);
      const receiver = args.receivers.find((r) => SECRET_IDS.receiver(r.name) === id);
      if (receiver?.secret) return pulumi.secret(receiver.secret.reveal());
      throw new Error(`no value for secret ${id}`);
    };
    const files = secretFiles({ ...args.labels, alerting: { receivers: args.receivers } });
    this.parameters = files.map(
      (s) =>
        new aws.ssm.Parameter(
          `${name}-${s.id}`,
          {
            name: s.parameter,
            type: "SecureString",
            description: `${args.labels.project}/${args.labels.stack}: read at boot into ${s.path}`,
            value: valueOf(s.id),
            tags: resourceTags(args.labels, `${name}-${s.id}`),
          },
          { parent: this },
        ),
    );
    this.versions = pulumi
      .all(this.parameters.map((p) => p.version))
      .apply((versions) => Object.fromEntries(files.map((f, i) => [f.id, versions[i]])));
    this.registerOutputs({ parameters: this.parameters, parameterNames: this.parameters.map((p) => p.name), versions: this.versions });
  }
}
