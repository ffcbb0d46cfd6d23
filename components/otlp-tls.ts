import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as tls from "@pulumi/tls";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface OtlpTlsArgs {
  /** Names, tags, and the certificates' subjects (organization: project, unit: stack). */
  labels: StackLabels;
  /** The applications that send OTLP (`otlpClients`): each gets its own client CA and certificate. */
  clients: string[];
  /** The host's stable private IP: the server certificate names it, so clients can verify the endpoint. */
  privateIp: pulumi.Input<string>;
  /**
   * A pair's other names of the same endpoint: the second host's IP and the load balancer's DNS name (TLS passes
   * through it, so the collectors present this certificate for it). Both hosts share the one certificate and key.
   */
  pair?: { peerIp: pulumi.Input<string>; loadBalancerDnsName: pulumi.Input<string> };
}

/**
 * The OTLP server certificate is valid two years and any `pulumi up` in its second year renews it (the provider
 * replaces a certificate within `earlyRenewalHours` of its end): renewal needs one deploy a year, not one in a
 * 30-day window. HostCertificateExpiring (meta-alerts) tickets 30 days before the end and pages at 7, in case no
 * deploy came.
 */
export const SERVER_CERT_VALIDITY_HOURS = 2 * 365 * 24;
export const SERVER_CERT_EARLY_RENEWAL_HOURS = 365 * 24;
export const CA_VALIDITY_HOURS = 10 * 365 * 24;

/**
 * Client certificates (mutual TLS): two years, renewed by any `pulumi up` in their last year. The application
 * re-reads its SSM parameters on restart; the collector trusts each application's CA, not the certificate itself,
 * so a renewed certificate needs no change on the host.
 */
export const CLIENT_CERT_VALIDITY_HOURS = 2 * 365 * 24;
export const CLIENT_CERT_EARLY_RENEWAL_HOURS = 365 * 24;

// Where each application's credential lives; a module of its own so the pure renderers (the app-side agent) can
// name the parameters without loading the Pulumi SDKs.
export { otlpClientParameters } from "../config/otlp-client-parameters";
import { otlpClientParameters } from "../config/otlp-client-parameters";

/**
 * A private CA for the collector's OTLP receivers and the server certificate it signs. Application teams trust
 * the CA certificate (a stack output); the server key goes to SSM Parameter Store, never into files or user data.
 *
 * Senders authenticate with client certificates: each application in `otlpClients` gets its own small CA and a
 * client certificate it signs (SSM: certificate, SecureString private key, and the server CA to trust). The
 * collector's `client_ca_file` is the bundle of those per-application CAs, so removing an application from the
 * list revokes its certificate at the next apply (a shared client CA could not revoke one application).
 */
export class OtlpTls extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly serverCertPem: pulumi.Output<string>;
  /** Secret output. */
  readonly serverKeyPem: pulumi.Output<string>;
  /** The per-application client CAs, concatenated: the collector's `client_ca_file` (public). */
  readonly clientCaBundlePem: pulumi.Output<string>;
  /** Per application: the SSM parameter names of its credential (names only, no values). */
  readonly clientParameters: Record<string, ReturnType<typeof otlpClientParameters>>;

  constructor(name: string, args: OtlpTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:tls:OtlpTls", name, {}, opts);
    const cfg = args.labels;
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
        ipAddresses: args.pair ? [args.privateIp, args.pair.peerIp] : [args.privateIp],
        dnsNames: [`otlp.${cfg.stack}.${cfg.project}`, "localhost", ...(args.pair ? [args.pair.loadBalancerDnsName] : [])],
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

    const clientCas = args.clients.map((client) => {
      const n = `${name}-client-${client}`;
      const clientCaKey = new tls.PrivateKey(`${n}-ca`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
      const clientCa = new tls.SelfSignedCert(
        `${n}-ca`,
        {
          privateKeyPem: clientCaKey.privateKeyPem,
          isCaCertificate: true,
          subject: subject(`${cfg.project} ${cfg.stack} OTLP client CA ${client}`),
          validityPeriodHours: CA_VALIDITY_HOURS,
          allowedUses: ["cert_signing"],
        },
        child,
      );
      const key = new tls.PrivateKey(n, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
      const csr = new tls.CertRequest(n, { privateKeyPem: key.privateKeyPem, subject: subject(client) }, child);
      const cert = new tls.LocallySignedCert(
        n,
        {
          certRequestPem: csr.certRequestPem,
          caPrivateKeyPem: clientCaKey.privateKeyPem,
          caCertPem: clientCa.certPem,
          validityPeriodHours: CLIENT_CERT_VALIDITY_HOURS,
          earlyRenewalHours: CLIENT_CERT_EARLY_RENEWAL_HOURS,
          allowedUses: ["digital_signature", "client_auth"],
        },
        child,
      );
      const names = otlpClientParameters(cfg, client);
      const parameter = (role: keyof typeof names, type: "String" | "SecureString", value: pulumi.Input<string>, what: string) =>
        new aws.ssm.Parameter(
          `${n}-${role}`,
          { name: names[role], type, description: `${cfg.project}/${cfg.stack}: ${what} of OTLP sender ${client}`, value, tags: resourceTags(cfg, `${n}-${role}`) },
          child,
        );
      parameter("certificate", "String", cert.certPem, "client certificate (PEM)");
      parameter("privateKey", "SecureString", pulumi.secret(key.privateKeyPem), "client private key (PEM)");
      parameter("serverCa", "String", ca.certPem, "CA of the collector's server certificate (PEM)");
      return { client, caPem: clientCa.certPem, names };
    });

    this.caCertPem = ca.certPem;
    this.serverCertPem = server.certPem;
    this.serverKeyPem = pulumi.secret(serverKey.privateKeyPem);
    this.clientCaBundlePem = pulumi.all(clientCas.map((c) => c.caPem)).apply((pems) => pems.map((p) => (p.endsWith("\n") ? p : `${p}\n`)).join(""));
    this.clientParameters = Object.fromEntries(clientCas.map((c) => [c.client, c.names]));
    // serverKeyPem is a secret output: registered as such, so the component's state shows it only as [secret].
    this.registerOutputs({
      caCertPem: this.caCertPem,
      serverCertPem: this.serverCertPem,
      serverKeyPem: this.serverKeyPem,
      clientCaBundlePem: this.clientCaBundlePem,
      clientParameters: this.clientParameters,
    });
  }
}
