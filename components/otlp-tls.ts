import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { StackConfig } from "./config";

export interface OtlpTlsArgs {
  config: StackConfig;
  /** The host's stable private IP: the server certificate names it, so clients can verify the endpoint. */
  privateIp: pulumi.Input<string>;
}

/** Server certificates are renewed by `pulumi up` once they are within this many hours of expiry (30 days). */
export const SERVER_CERT_EARLY_RENEWAL_HOURS = 30 * 24;
export const SERVER_CERT_VALIDITY_HOURS = 365 * 24;
export const CA_VALIDITY_HOURS = 10 * 365 * 24;

/**
 * A private CA for the collector's OTLP receivers and the server certificate it signs. Application teams trust
 * the CA certificate (a stack output); the server key goes to SSM Parameter Store, never into files or user data.
 */
export class OtlpTls extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly serverCertPem: pulumi.Output<string>;
  /** Secret output. */
  readonly serverKeyPem: pulumi.Output<string>;

  constructor(name: string, args: OtlpTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:tls:OtlpTls", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };
    const subject = (cn: string) => ({ commonName: cn, organization: cfg.project, organizationalUnit: cfg.stack });

    const caKey = new tls.PrivateKey(`${name}-ca`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        subject: subject(`${cfg.project} ${cfg.stack} OTLP CA`),
        validityPeriodHours: CA_VALIDITY_HOURS,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      child,
    );

    const serverKey = new tls.PrivateKey(`${name}-server`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
    const request = new tls.CertRequest(
      `${name}-server`,
      {
        privateKeyPem: serverKey.privateKeyPem,
        subject: subject(`otlp.${cfg.stack}.${cfg.project}`),
        ipAddresses: [args.privateIp],
        dnsNames: [`otlp.${cfg.stack}.${cfg.project}`, "localhost"],
      },
      child,
    );
    const server = new tls.LocallySignedCert(
      `${name}-server`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: SERVER_CERT_VALIDITY_HOURS,
        earlyRenewalHours: SERVER_CERT_EARLY_RENEWAL_HOURS,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      },
      child,
    );

    this.caCertPem = ca.certPem;
    this.serverCertPem = server.certPem;
    this.serverKeyPem = pulumi.secret(serverKey.privateKeyPem);
    this.registerOutputs({ caCertPem: this.caCertPem, serverCertPem: this.serverCertPem });
  }
}
