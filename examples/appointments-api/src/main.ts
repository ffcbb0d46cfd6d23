/**
 * appointments-api: POST /appointments stores an appointment in PostgreSQL; GET /health answers 200 when the
 * database answers. Start with the SDK loaded first: `node --require ./dist/telemetry.js dist/main.js`.
 *
 * Fault injection (for the end-to-end SLO test and demos; only with APP_FAULTS=enabled):
 *   PUT /admin/faults {"mode": "healthy" | "failing" | "slow-db", "dbDelayMs"?: 600, "holdPool"?: true}
 *     failing   every POST /appointments answers 500 at once (before touching the database)
 *     slow-db   every POST /appointments runs pg_sleep(dbDelayMs) on its pooled connection before the insert: the
 *               requests take that long, and enough of them hold every connection of the pool (saturation)
 *     holdPool  checks out every connection of the pool and keeps it until the next change (a leak, or a batch
 *               job hogging the pool); requests that need the database wait for it
 */
import "reflect-metadata";
import { Body, Controller, Get, HttpCode, HttpException, Inject, Module, NotFoundException, Post, Put, type OnApplicationShutdown } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { metrics } from "@opentelemetry/api";
import pino from "pino";
import type { Pool, PoolClient } from "pg";
import { createPool, migrate, POOL } from "./db";

// JSON logs on stdout; inside a request the pino instrumentation adds trace_id, span_id and trace_flags.
const logger = pino({ base: { service: process.env.OTEL_SERVICE_NAME ?? "appointments-api" } });

// The business counter of the seed plan: exported as appointments_created_total on both paths.
const appointmentsCreated = metrics.getMeter("appointments-api").createCounter("appointments.created", {
  description: "Appointments stored",
  unit: "{appointment}",
});

type FaultMode = "healthy" | "failing" | "slow-db";
const faults: { mode: FaultMode; dbDelayMs: number; holdPool: boolean } = { mode: "healthy", dbDelayMs: 600, holdPool: false };
/** Connections checked out by holdPool. */
const held: PoolClient[] = [];

interface NewAppointment {
  patient?: unknown;
  startsAt?: unknown;
}

@Controller()
class AppointmentsController {
  constructor(@Inject(POOL) private readonly pool: Pool) {}

  @Post("appointments")
  @HttpCode(201)
  async create(@Body() body: NewAppointment): Promise<{ id: string }> {
    if (faults.mode === "failing") {
      logger.error({ fault: faults.mode }, "injected failure");
      throw new HttpException("injected failure", 500);
    }
    const patient = typeof body?.patient === "string" && body.patient ? body.patient : "anonymous";
    const startsAt = typeof body?.startsAt === "string" ? body.startsAt : new Date().toISOString();
    const client = await this.pool.connect();
    try {
      if (faults.mode === "slow-db") await client.query("SELECT pg_sleep($1)", [faults.dbDelayMs / 1000]);
      const res = await client.query<{ id: string }>("INSERT INTO appointments (patient, starts_at) VALUES ($1, $2) RETURNING id", [patient, startsAt]);
      appointmentsCreated.add(1);
      logger.info({ appointment: res.rows[0].id }, "appointment created");
      return { id: res.rows[0].id };
    } finally {
      client.release();
    }
  }

  @Get("health")
  async health(): Promise<{ status: string }> {
    await this.pool.query("SELECT 1");
    return { status: "ok" };
  }
}

@Controller("admin")
class FaultsController {
  constructor(@Inject(POOL) private readonly pool: Pool) {}

  @Put("faults")
  async set(@Body() body: { mode?: FaultMode; dbDelayMs?: number; holdPool?: boolean }): Promise<typeof faults> {
    if (process.env.APP_FAULTS !== "enabled") throw new NotFoundException();
    const modes: FaultMode[] = ["healthy", "failing", "slow-db"];
    if (!body?.mode || !modes.includes(body.mode)) throw new HttpException(`mode must be one of ${modes.join(", ")}`, 400);
    faults.mode = body.mode;
    if (body.dbDelayMs !== undefined) faults.dbDelayMs = Number(body.dbDelayMs);
    faults.holdPool = body.holdPool === true;
    for (const c of held.splice(0)) c.release();
    if (faults.holdPool) {
      const max = this.pool.options.max ?? 10;
      for (let i = 0; i < max; i++) held.push(await this.pool.connect());
    }
    logger.warn({ faults, held: held.length }, "fault mode changed");
    return faults;
  }
}

@Module({
  controllers: [AppointmentsController, FaultsController],
  providers: [{ provide: POOL, useFactory: createPool }],
})
class AppModule implements OnApplicationShutdown {
  constructor(@Inject(POOL) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ["error", "warn"] });
  app.enableShutdownHooks();
  await migrate(app.get<Pool>(POOL));
  const port = Number(process.env.PORT ?? "3000");
  await app.listen(port, process.env.HOST ?? "127.0.0.1");
  logger.info({ port }, "listening");
}

bootstrap().catch((e: unknown) => {
  logger.fatal({ err: e }, "start-up failed");
  process.exit(1);
});
