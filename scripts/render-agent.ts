/**
 * `npm run render:agent -- <stack> [--gateway <ip>] [--ca <file>] [--client-cert] [--out <dir>] [--no-validate]`:
 * renders the application-side collector agent (hostfiles/app-agent.ts) for a stack into out/<stack>/agent/:
 * config.yaml, otelcol-agent.service, monitoring-ca.crt and install.sh, then checks them with the validators that
 * are installed (systemd-analyze verify/security, shellcheck), like `npm run render` does for the host.
 *
 * The monitoring host's address and CA exist only after `pulumi up`; pass them from the stack outputs:
 *
 *   pulumi stack output otlpCaCertificate > otlp-ca.crt
 *   npm run render:agent -- dev --gateway "$(pulumi stack output privateIp)" --ca otlp-ca.crt
 *
 * Without them the files carry placeholders (fine for checking; install.sh refuses to install them).
 * `--client-cert`: the agent presents out/<stack>/agent/client.crt and client.key (copy them there) to the
 * monitoring host (mutual TLS).
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, loadStackConfig } from "../components/config";
import { FileConfigSource } from "../components/config-source";
import { APP_AGENT, appAgentFiles, appAgentView, AgentFile } from "../hostfiles/app-agent";
import { placeholderContext } from "../hostfiles/types";
import { checkScripts, checkUnits, Check, PROJECT_DIR, reportChecks } from "./render";
import * as os from "os";

export function renderAgent(stack: string, o: { gateway?: string; caPem?: string; clientCert?: boolean; projectDir?: string } = {}): AgentFile[] {
  // The stack must exist and load (the same validation as every render); its values that matter here are outputs.
  loadStackConfig(new FileConfigSource(stack, o.projectDir ?? PROJECT_DIR), { requireSecrets: false });
  const placeholder = placeholderContext(stack);
  const view = appAgentView({ privateIp: o.gateway ?? placeholder.privateIp, otlpCaCertPem: o.caPem ?? placeholder.otlpCaCertPem }, { clientCertificate: o.clientCert });
  return appAgentFiles(view);
}

export function validateAgent(files: AgentFile[]): Check[] {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-agent-check-"));
  try {
    const units = files.filter((f) => f.name.endsWith(".service"));
    const scripts = files.filter((f) => f.content.startsWith("#!"));
    return [...checkUnits(units, scratch, [APP_AGENT.bin]), ...checkScripts(scripts, scratch)];
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const values = new Set([option("--out"), option("--gateway"), option("--ca")]);
  const stack = argv.find((a) => !a.startsWith("--") && !values.has(a));
  if (!stack) {
    console.error("usage: npm run render:agent -- <stack> [--gateway <monitoring host private IP>] [--ca <otlpCaCertificate PEM file>] [--client-cert] [--out <dir>] [--no-validate]");
    return 2;
  }
  const caFile = option("--ca");
  let files: AgentFile[];
  try {
    files = renderAgent(stack, { gateway: option("--gateway"), caPem: caFile ? fs.readFileSync(caFile, "utf8") : undefined, clientCert: argv.includes("--client-cert") });
  } catch (e) {
    if (e instanceof ConfigError || (e instanceof Error && /^(No stack file|the monitoring host|the OTLP CA|ENOENT)/.test(e.message))) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  const outDir = path.resolve(option("--out") ?? path.join(PROJECT_DIR, "out", stack, "agent"));
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of files) {
    fs.writeFileSync(path.join(outDir, f.name), f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(path.join(outDir, f.name), parseInt(f.mode, 8));
  }
  console.log(`rendered the application agent (${files.map((f) => f.name).join(", ")}) into ${path.relative(process.cwd(), outDir) || "."}`);
  if (!option("--gateway") || !caFile) console.log("  placeholders: pass --gateway and --ca (stack outputs privateIp, otlpCaCertificate) for files to install");
  console.log(`  on the application instance: copy the directory, then \`sudo ./install.sh\` (unit ${APP_AGENT.unit})`);
  if (argv.includes("--no-validate")) return 0;
  return reportChecks(validateAgent(files));
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
