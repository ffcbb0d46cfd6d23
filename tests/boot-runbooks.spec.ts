/**
 * Every runbook command on a booted host (issue 13, item 5): the dev host is booted under real systemd
 * (tests/boot/host.ts), and every command of every runbook the stack renders (the shared ones and those generated
 * per SLO and per service) is run the way the runbook writes it (with or without sudo), block by block as on-call
 * pastes it, as each login user on-call gets: `ssm-user` (Session Manager, created as the SSM agent creates it) and
 * the ssh user. Each must exit 0 with no permission error (a pipeline ending in grep may find nothing on a healthy
 * host: exit 1 with no output), and journalctl must show the system's messages.
 *
 * Not run, and listed in the test's output with the reason: commands for the laptop (aws ssm, ssh, pulumi), lines
 * with a placeholder on-call fills in (<instance-id>), calls to Grafana, Loki, Tempo or the collector (stand-ins
 * in the boot lab: no binary here), AWS APIs the lab does not stand in for, and commands that change the host
 * (restarts, deletions).
 *
 * Needs root and the boot-test tools (tests/boot/host.ts `missingPrerequisites`); skipped loudly without them.
 */
import { strict as assert } from "assert";
import { renderRunbooks } from "../dashboards/runbooks";
import { splitSections } from "../rules/runbook-links";
import { SERVICES } from "../layout/host-layout";
import { JOURNAL_GROUP, SSM_SESSION_USER } from "../hostfiles/ssh-access";
import { STANDIN_SERVICES } from "./boot/releases";
import { BootLab, GuestHost, missingPrerequisites } from "./boot/host";
import { stackConfig } from "./support/stacks";
import { buildSloModels } from "../rules/slo-model";

interface Command {
  runbook: string;
  text: string;
  skip?: string;
}

/** Ports of the services that are stand-ins in the boot lab (their real programs cannot run here). */
const STANDIN_PORTS = STANDIN_SERVICES.flatMap((s) => Object.values(SERVICES[s].ports as Record<string, number>));

function classify(line: string): string | undefined {
  if (/^\s*(aws ssm start-session|ssh |pulumi )/.test(line)) return "runs on the laptop";
  if (/<[a-z][^<>\s]*>/i.test(line)) return "has a placeholder on-call fills in";
  if (/https?:\/\/(?!localhost|127\.0\.0\.1)[a-z0-9.-]+/i.test(line) && !/\baws\b/.test(line)) return "reaches a receiver's endpoint on the internet (none in the boot lab)";
  if (/\b(systemctl (restart|stop|start|reload|kill)|rm |mv |kill |pkill |chown |xfs_growfs|reboot|poweroff)\b/.test(line)) return "changes the host";
  // What only the real program writes below its data directory (Loki's WAL, the collector's queue, …).
  const data = STANDIN_SERVICES.map((s) => SERVICES[s].dataDir).find((d) => d && line.includes(`${d}/`));
  if (data) return `reads what the real service writes below ${data} (a stand-in in the boot lab)`;
  const port = STANDIN_PORTS.find((p) => new RegExp(`(localhost|127\\.0\\.0\\.1):${p}\\b`).test(line));
  if (port) return `needs the real service on port ${port} (a stand-in in the boot lab)`;
  if (/\baws (s3|sts)\b/.test(line)) return "calls an AWS API the boot lab does not stand in for";
  if (/\bpsql\b/.test(line)) return "runs against the application's database";
  // The offline render behind the lab has placeholder certificates (pulumi creates the real ones).
  if (/openssl x509 .*\.crt\b/.test(line)) return "reads a certificate that only a deploy creates (a placeholder in the boot lab)";
  return undefined;
}

/** The shell blocks of every rendered runbook but the laptop-side "Connect" section, as logical lines. */
function runbookCommands(blocks: { runbook: string; sh: string }[]): Command[][] {
  return blocks.map(({ runbook, sh }) => {
    const lines = sh.replace(/\\\n\s*/g, " ").split("\n");
    return lines.filter((l) => l.trim() && !/^\s*#/.test(l)).map((text) => ({ runbook, text, skip: classify(text) }));
  });
}

/** One script per block, each line's output and exit status between markers, in one shell (variables carry over). */
function script(cmds: Command[]): string {
  const login = 'export USER="$(id -un)" LOGNAME="$(id -un)"; HOME="$(getent passwd "$USER" | cut -d: -f6)"; export HOME; cd "$HOME"';
  // The command on lines of its own: a trailing `# comment` ends at the newline, not at the closing brace.
  return [login, ...cmds.map((c, i) => `echo "@@CMD ${i}"\n{\n${c.skip ? ":" : c.text}\n} 2>&1\necho "@@RC ${i} $?"`)].join("\n");
}

describe("boot: every runbook command runs on the booted host as on-call's login users", function () {
  this.timeout(40 * 60_000);
  let lab: BootLab | undefined;
  let host: GuestHost;
  const cfg = stackConfig("dev");

  before(function () {
    const missing = missingPrerequisites();
    if (missing.length > 0) {
      const msg = `missing ${missing.join(", ")}`;
      if (process.env.CI) throw new Error(msg);
      console.warn(`\n  !!! SKIPPED boot runbook test: ${msg}\n`);
      this.skip();
    }
    lab = BootLab.create();
    host = lab.host({ cfg });
    host.boot();
    host.waitHealthy({ timeoutSec: 900 });
    // ssm-user as the SSM agent creates it (a user with a home and its own sudoers file), then the next bundle
    // change, as in production: its apply gives the user the journal's group (the bundle's loginGroups).
    host.run(
      `useradd --create-home --shell /bin/bash ${SSM_SESSION_USER} && printf '${SSM_SESSION_USER} ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/ssm-agent-users && chmod 0440 /etc/sudoers.d/ssm-agent-users`,
    );
    const etag = host.upload({ ...host.cfg, runbookBaseUrl: "https://runbooks.acme.internal/boot-runbooks" });
    const applied = host.healthCheck({ expectEtag: etag, timeoutSec: 600 });
    if (applied.status !== 0) throw new Error(`the bundle change was not applied:\n${applied.stdout}\n${host.exec("journalctl -u monitoring-apply -n 60 --no-pager").stdout}`);
  });

  after(() => lab?.teardown());

  const users = () => [SSM_SESSION_USER, host.cfg.access.sshUser];

  it("the login users are in the journal's group and journalctl shows the system's messages", () => {
    for (const user of users()) {
      assert.match(host.run(`id -nG ${user}`), new RegExp(`\\b${JOURNAL_GROUP}\\b`), user);
      const r = host.exec("journalctl -u prometheus -n 5 --no-pager", { user });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.trim().split("\n").length >= 2, `${user} sees no prometheus journal entries: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /not seeing messages|insufficient permissions/i, user);
    }
  });

  it("every runbook command exits 0 for each login user, without a permission error", () => {
    const blocks = renderRunbooks(cfg, buildSloModels(cfg)).flatMap((rb) =>
      splitSections(rb.markdown)
        .sections.filter((s) => !/^Connect/.test(s.heading))
        .flatMap((s) => [...s.body.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => ({ runbook: rb.ref.slo ? `${rb.ref.slo}/${rb.ref.file}` : rb.ref.service ? `${rb.ref.service}/${rb.ref.file}` : rb.ref.file, sh: m[1] }))),
    );
    const commands = runbookCommands(blocks);
    const all = commands.flat();
    const run = all.filter((c) => !c.skip);
    assert.ok(run.length > 50, `${run.length} commands to run`);
    const failures: string[] = [];
    for (const user of users()) {
      for (const cmds of commands) {
        if (cmds.every((c) => c.skip)) continue;
        const r = host.exec(script(cmds), { user, timeoutMs: 300_000 });
        const out = r.stdout;
        cmds.forEach((c, i) => {
          if (c.skip) return;
          const start = out.indexOf(`@@CMD ${i}\n`);
          const rc = new RegExp(`@@RC ${i} (\\d+)`).exec(out);
          const body = start >= 0 && rc ? out.slice(start + `@@CMD ${i}\n`.length, rc.index) : out;
          const status = rc ? Number(rc[1]) : -1;
          // A pipeline through grep that finds nothing (exit 1, no output) is what a healthy host shows.
          const nothingFound = status === 1 && /\|\s*(sudo )?grep\b/.test(c.text) && body.trim() === "";
          const denied = /permission denied|not permitted|command not found|insufficient permissions|not seeing messages|sudo: .*(password|not allowed)|parse error|method not allowed/i.test(body);
          if ((status !== 0 && !nothingFound) || denied) failures.push(`[${user}] ${c.runbook}: ${c.text}\n    → exit ${status}: ${body.trim().slice(0, 400)}`);
        });
      }
    }
    const skipped = new Map<string, number>();
    for (const c of all.filter((x) => x.skip)) skipped.set(c.skip!, (skipped.get(c.skip!) ?? 0) + 1);
    console.log(`      ran ${run.length} runbook commands as ${users().join(" and ")}; not run: ${[...skipped].map(([why, n]) => `${n} (${why})`).join(", ")}`);
    assert.deepEqual(failures, [], `runbook commands that fail on a healthy host:\n${failures.join("\n")}`);
  });
});
