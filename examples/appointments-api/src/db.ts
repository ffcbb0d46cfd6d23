/**
 * The PostgreSQL pool. Connection settings come from libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE,
 * PGPASSWORD), which `pg` reads itself; the pool size from PG_POOL_MAX.
 *
 * The pg instrumentation reports this pool as db.client.connection.count{state=used|idle} and
 * db.client.connection.max, with db.client.connection.pool.name = "<host>:<port>/<database>".
 *
 * Prisma users: Prisma 6.16+/7 talks to PostgreSQL through a driver adapter. With `@prisma/adapter-pg` the queries
 * run on a `pg` pool, which the same instrumentation sees (docs/connect-an-application.md, "Prisma").
 */
import { Pool } from "pg";

export const POOL = Symbol("pg.Pool");

export function createPool(): Pool {
  const max = Number(process.env.PG_POOL_MAX ?? "10");
  if (!Number.isInteger(max) || max < 1) throw new Error(`PG_POOL_MAX must be a positive integer, got ${process.env.PG_POOL_MAX}`);
  const env = process.env;
  return new Pool({
    // Named explicitly although `pg` would read the same variables: the instrumentation names the pool
    // (db.client.connection.pool.name) from these options only, and reports "unknown_host:unknown_port/unknown_database"
    // for a pool configured by environment alone.
    host: env.PGHOST,
    port: env.PGPORT ? Number(env.PGPORT) : undefined,
    database: env.PGDATABASE,
    max,
    // A request waits at most 5 s for a connection; then it fails (500) instead of hanging.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
}

export async function migrate(pool: Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS appointments (
    id bigserial PRIMARY KEY,
    patient text NOT NULL,
    starts_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
}
