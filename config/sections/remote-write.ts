/** `remoteWrite`: send every sample to Amazon Managed Service for Prometheus, in a new or an existing workspace. */
import { type ConfigProblems, didYouMean, show } from "../config-problems";
import type { Reader } from "../reader";
import type { RemoteWriteConfig } from "../stack-config";
import { AMP_WORKSPACE_ID } from "../value-checks";

/** `remoteWrite: { workspace: create }` or `remoteWrite: { workspace: <existing workspace id> }`. */
export function readRemoteWrite(r: Reader, p: ConfigProblems, k: (key: string) => string): RemoteWriteConfig | undefined {
  const raw = r.raw("remoteWrite");
  if (raw === undefined) return undefined;
  const allowed = "an object { workspace: create } or { workspace: <id of an existing AMP workspace, like ws-…> }";
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(k("remoteWrite"), `${show(raw)} is not allowed; allowed: ${allowed}`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (key !== "workspace") p.add(`${k("remoteWrite")}.${key}`, `unknown key; allowed: workspace${didYouMean(key, ["workspace"])}`);
  }
  const workspace = (raw as Record<string, unknown>).workspace;
  if (workspace === undefined) {
    p.add(`${k("remoteWrite")}.workspace`, "is required; allowed: create, or the id of an existing AMP workspace in the stack's region");
    return undefined;
  }
  if (workspace === "create") return {};
  if (typeof workspace !== "string" || !AMP_WORKSPACE_ID.test(workspace)) {
    p.add(
      `${k("remoteWrite")}.workspace`,
      `${show(workspace)} is not allowed; allowed: create, or an AMP workspace id (1 to 64 letters, digits, - . _, starting with a letter or digit, like ws-b226cc2a-a446-46a9-933a-ac50479a5568)`,
    );
    return undefined;
  }
  return { workspaceId: workspace };
}
