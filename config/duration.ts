/** Prometheus-style durations (`15d`, `36h`, `1w2d`): the notation every service on the host understands. */
export interface Duration {
  /** As written by the user, e.g. `15d`. */
  text: string;
  seconds: number;
}

const UNIT_SECONDS: Record<string, number> = { y: 365 * 86400, w: 7 * 86400, d: 86400, h: 3600, m: 60, s: 1 };

export function parseDuration(text: string): Duration | undefined {
  const t = text.trim();
  if (!/^(\d+[ywdhms])+$/.test(t)) return undefined;
  let seconds = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([ywdhms])/g)) seconds += Number(n) * UNIT_SECONDS[unit];
  return { text: t, seconds };
}

/** Whole days, rounded up: S3 lifecycle rules count days. */
export function ceilDays(d: Duration): number {
  return Math.ceil(d.seconds / 86400);
}

/** Hours as a Go duration (`168h`): Loki and Tempo settings take Go durations, which have no `d` unit. */
export function goDuration(d: Duration): string {
  return d.seconds % 3600 === 0 ? `${d.seconds / 3600}h` : `${d.seconds}s`;
}

/** `5m`, `90s`, `2h`: a duration in the largest unit that divides it, as Prometheus rules and LogQL ranges take it. */
export function promDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
