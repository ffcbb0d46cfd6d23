/**
 * A throwaway PostgreSQL cluster for tests: Debian's `postgresql` server binaries (initdb, pg_ctl), a fresh data
 * directory in a temp dir, listening on 127.0.0.1 and a unix socket in that temp dir only, trust authentication
 * (nothing else can reach it), fsync off. `stop()` shuts it down (`pg_ctl stop -m fast`, then `immediate`) and
 * removes the directory; a process-exit hook stops a cluster a crashed run left behind.
 *
 * PostgreSQL refuses to run as root: when the tests run as root (CI), every server command runs as the `postgres`
 * system user the Debian package creates (`runuser`), and the temp dir is handed to that user.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, LOOPBACK } from "../support/daemons";

/** Where Debian installs the server binaries (/usr/lib/postgresql/<major>/bin); the newest major wins. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const majors = fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return majors.length ? path.join(root, majors[0], "bin") : undefined;
}

/** One database of a cluster: what a client connects with, and the server's view of its connections. */
export interface PostgresDatabase {
  readonly port: number;
  readonly database: string;
  /** The libpq variables a client (psql, node-postgres) connects with. */
  readonly env: Record<string, string>;
  /** Connections the server has open to this database right now, by state. */
  connections(): { total: number; active: number };
}

const running = new Set<PostgresCluster>();
process.on("exit", () => {
  for (const c of running) c.stopSync("immediate");
});

export class PostgresCluster implements PostgresDatabase {
  readonly user = "app";
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    readonly database: string,
    private readonly asUser: string | undefined,
  ) {}

  /** The libpq variables a client (psql, node-postgres) connects with. */
  get env(): Record<string, string> {
    return { PGHOST: LOOPBACK, PGPORT: String(this.port), PGUSER: this.user, PGDATABASE: this.database };
  }

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  private exec(tool: string, args: string[], timeoutMs = 60_000): string {
    const cmd = path.join(this.bin, tool);
    const [file, argv] = this.asUser ? ["runuser", ["-u", this.asUser, "--", cmd, ...args]] : [cmd, args];
    return execFileSync(file, argv, { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
  }

  static async start(database = "appointments"): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    if (!bin) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-e2e-"));
    const asUser = process.getuid?.() === 0 ? "postgres" : undefined;
    if (asUser) execFileSync("chown", [asUser, dir]);
    const c = new PostgresCluster(bin, dir, await freePort(), database, asUser);
    try {
      c.exec("initdb", ["-D", c.dataDir, "-A", "trust", "-U", c.user, "-E", "UTF8", "--no-sync", "--no-instructions"]);
      const opts = `-c listen_addresses=${LOOPBACK} -p ${c.port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=50`;
      c.exec("pg_ctl", ["-D", c.dataDir, "-o", opts, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"], 90_000);
      running.add(c);
      c.exec("createdb", ["-h", LOOPBACK, "-p", String(c.port), "-U", c.user, database]);
      return c;
    } catch (e) {
      c.stopSync("immediate");
      throw new Error(`starting PostgreSQL failed: ${String(e)}\n${c.log().slice(-2000)}`);
    }
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, "server.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Connections the server has open to `database` right now, by state (pg_stat_activity, read with psql). */
  connections(database = this.database): { total: number; active: number } {
    const out = this.exec("psql", ["-h", LOOPBACK, "-p", String(this.port), "-U", this.user, "-d", "postgres", "-Atc",
      `SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`]);
    const [total, active] = out.trim().split("|").map(Number);
    return { total, active };
  }

  /**
   * Another database in this cluster (createdb), for one more application: its connections are counted apart, so
   * several applications can share one server (one start-up instead of one per application).
   */
  createDatabase(name: string): PostgresDatabase {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    this.exec("createdb", ["-h", LOOPBACK, "-p", String(this.port), "-U", this.user, name]);
    return { port: this.port, database: name, env: { ...this.env, PGDATABASE: name }, connections: () => this.connections(name) };
  }

  /** Stops the server (fast, then immediate) and removes its directory. Safe to call twice. */
  stopSync(mode: "fast" | "immediate" = "fast"): void {
    if (fs.existsSync(path.join(this.dataDir, "postmaster.pid"))) {
      const cmd = path.join(this.bin, "pg_ctl");
      const args = ["-D", this.dataDir, "-m", mode, "-w", "-t", "30", "stop"];
      const r = this.asUser ? spawnSync("runuser", ["-u", this.asUser, "--", cmd, ...args], { timeout: 40_000 }) : spawnSync(cmd, args, { timeout: 40_000 });
      if (r.status !== 0 && mode === "fast") return this.stopSync("immediate");
    }
    running.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    this.stopSync("fast");
  }
}
