/** `metricsRetention`, `logsRetention`, `tracesRetention`: durations each service can keep. */
import type { Reader } from "../reader";

export function readRetention(r: Reader) {
  return {
    metrics: r.duration("metricsRetention", { minSeconds: 2 * 3600, what: "from 2h (one TSDB block) to 100y" }),
    logs: r.duration("logsRetention", { minSeconds: 86400, multipleOfSeconds: 86400, what: "whole days (Loki's index period is 24h), at most 100y" }),
    traces: r.duration("tracesRetention", { minSeconds: 3600, what: "from 1h to 100y" }),
  };
}
