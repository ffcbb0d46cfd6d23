/**
 * `runbookBaseUrl`: where a team publishes the rendered runbooks. An http(s) URL without a trailing slash, no template
 * syntax, no placeholder in prd, and short enough for the host alarms' descriptions that link to it.
 */
import type { ConfigProblems } from "../config-problems";
import { ALARM_DESCRIPTION_MAX_CHARS, hostAlarmDescription, STATUS_CHECK_ACTIONS, StatusCheck } from "../host-alarm-text";
import type { Reader } from "../reader";
import { show } from "../config-problems";
import { isPlaceholderUrl, templateProblem } from "../value-checks";

export function readRunbookBaseUrl(
  r: Reader,
  p: ConfigProblems,
  k: (key: string) => string,
  source: { project: string; stack: string },
  isProduction: boolean,
): string | undefined {
  const runbookBaseUrl = r.string("runbookBaseUrl");
  if (runbookBaseUrl !== undefined && !/^https?:\/\/[^\s]+[^/\s]$/.test(runbookBaseUrl)) {
    p.add(k("runbookBaseUrl"), `${show(runbookBaseUrl)} must be an http(s) URL without a trailing slash`);
  } else if (runbookBaseUrl !== undefined && templateProblem(runbookBaseUrl)) {
    p.add(k("runbookBaseUrl"), `${show(runbookBaseUrl)} ${templateProblem(runbookBaseUrl)}`);
  } else if (runbookBaseUrl !== undefined && isProduction && isPlaceholderUrl(runbookBaseUrl)) {
    p.add(
      k("runbookBaseUrl"),
      `${show(runbookBaseUrl)} is a placeholder: every alert's runbook link would be dead in prd. Remove the key (alerts then link ` +
        "the runbooks the host's Grafana serves) or set the URL where you publish out/<stack>/runbooks/",
    );
  } else if (runbookBaseUrl !== undefined) {
    const longest = Math.max(
      ...(Object.keys(STATUS_CHECK_ACTIONS) as StatusCheck[]).map((c) => hostAlarmDescription({ project: source.project, stack: source.stack, runbookBaseUrl }, c).length),
    );
    if (longest > ALARM_DESCRIPTION_MAX_CHARS) {
      p.add(
        k("runbookBaseUrl"),
        `is ${runbookBaseUrl.length} characters: the host alarms' descriptions that link to it would be ${longest}, over CloudWatch's ${ALARM_DESCRIPTION_MAX_CHARS}; ` +
          `use a URL of at most ${runbookBaseUrl.length - (longest - ALARM_DESCRIPTION_MAX_CHARS)} characters`,
      );
    }
  }
  return runbookBaseUrl;
}
