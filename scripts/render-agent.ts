/**
 * `npm run render:agent -- <stack> [--gateway <ip>] [--client <otlpClients entry>] [--out <dir>] [--no-validate]`:
 * renders the application-side collector agent (hostfiles/app-agent.ts) for a stack into out/<stack>/agent/:
 * config.yaml, otelcol-agent.service and install.sh, then checks them with the validators that are installed
 * (systemd-analyze verify/security, shellcheck), like `npm run render` does for the host.
 *
 * The monitoring host's address exists only after `pulumi up`; pass it from the stack outputs:
 *
 *   npm run render:agent -- dev --gateway "$(pulumi stack output privateIp)" --client appointments-api
 *
 * Without it the config carries a placeholder address (fine for checking; install.sh refuses to run). The client
 * certificate, key and server CA are not rendered: install.sh reads them from SSM on the application instance.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { FileConfigSource } from "../config/config-source";
import { APP_AGENT, appAgentFiles, appAgentView, AgentFile } from "../hostfiles/app-agent";
import { checkScripts, checkUnits, Check, PROJECT_DIR, reportChecks } from "./render";
import * as os from "os";

export function renderAgent(stack: string, o: { gateway?: string; client?: string; projectDir?: string } = {}): AgentFile[] {
  const cfg = loadStackConfig(new FileConfigSource(stack, o.projectDir ?? PROJECT_DIR), { requireSecrets: false });
  return appAgentFiles(appAgentView(cfg, { gatewayIp: o.gateway, client: o.client }));
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
  const values = new Set([option("--out"), option("--gateway"), option("--client")]);
  const stack = argv.find((a) => !a.startsWith("--") && !values.has(a));
  if (!stack) {
    console.error("usage: npm run render:agent -- <stack> [--gateway <monitoring host private IP>] [--client <otlpClients entry>] [--out <dir>] [--no-validate]");
    return 2;
  }
  let files: AgentFile[];
  try {
    files = renderAgent(stack, { gateway: option("--gateway"), client: option("--client") });
  } catch (e) {
    if (e instanceof ConfigError || (e instanceof Error && /^(No stack file|--gateway|--client)/.test(e.message))) {
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
  if (!option("--gateway")) console.log("  placeholder address: pass --gateway \"$(pulumi stack output privateIp)\" for files to install");
  console.log(`  on the application instance: copy the directory, then \`sudo ./install.sh\` (unit ${APP_AGENT.unit})`);
  if (argv.includes("--no-validate")) return 0;
  return reportChecks(validateAgent(files));
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
