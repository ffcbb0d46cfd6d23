import type { StackConfig } from "./stack-config";

/** SSM parameters holding one application's OTLP client credential. Outside the host's `/<project>/<stack>/*`. */
export function otlpClientParameters(cfg: Pick<StackConfig, "project" | "stack">, client: string) {
  const base = `/${cfg.project}-otlp-clients/${cfg.stack}/${client}`;
  return { certificate: `${base}/certificate`, privateKey: `${base}/private-key`, serverCa: `${base}/server-ca` };
}
