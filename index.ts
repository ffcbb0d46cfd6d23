/**
 * Entry point of `pulumi up`: reads and validates the stack config, composes the components, exports outputs.
 * A config mistake stops here, before any resource is created, with every problem listed and no stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config/config-problems";
import { loadStackConfig } from "./config/loader";
import { PulumiConfigSource } from "./config/config-source";
import { MonitoringStack } from "./components/monitoring-stack";

// Not in the SDK's typings, but part of its runtime: whether a key was set with --secret.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig: { isConfigSecret(k: string): boolean } = require("@pulumi/pulumi/runtime/config");

function loadConfig() {
  try {
    return loadStackConfig(
      new PulumiConfigSource(pulumi.getProject(), pulumi.getStack(), {
        allConfig: pulumi.runtime.allConfig,
        isConfigSecret: runtimeConfig.isConfigSecret,
      }),
    );
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

const config = loadConfig();
const stack = new MonitoringStack(`${config.project}-${config.stack}`, { config });

export const instanceId = stack.instanceId;
export const privateIp = stack.privateIp;
export const dataVolumeId = stack.dataVolumeId;
export const lokiBucket = stack.lokiBucket;
export const tempoBucket = stack.tempoBucket;
export const configBucket = stack.configBucket;
export const securityGroupId = stack.securityGroupId;
/** Where applications send OTLP: the host, or a pair's load balancer (docs/connect-an-application.md). */
export const otlpEndpoints = stack.otlpEndpoints;
/** A pair's (`hosts: 2`) internal Network Load Balancer in front of both collectors; absent on a single host. */
export const otlpLoadBalancerDnsName = stack.otlpLoadBalancerDnsName;
/** A pair's hosts: instance id, private IP, data volume, ssh alias/command and tunnels of each (docs/runbooks). */
export const pairHosts = stack.pairHosts;
/** Application teams trust this CA to send OTLP over TLS. */
export const otlpCaCertificate = stack.otlpCaCertificate;
/** Where each application in otlpClients reads its client certificate and key (SSM parameter names; docs/security.md). */
export const otlpClientCredentials = stack.otlpClientCredentials;
/** Paste into ~/.ssh/config, then `ssh <alias>`. */
export const sshConfig = stack.sshConfig;
export const sshCommand = stack.sshCommand;
export const tunnels = stack.tunnels;
/** Secret: `pulumi stack output automationPrivateKey --show-secrets`. */
export const automationPrivateKey = stack.automationPrivateKey;
