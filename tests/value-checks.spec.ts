/** Checks of single values the loader uses (config/value-checks.ts, config/duration.ts), on their own. */
import { strict as assert } from "assert";
import { parseDuration } from "../config/duration";
import { cidrProblem } from "../config/value-checks";

describe("single config values", () => {
  it("parses durations", () => {
    assert.equal(parseDuration("15d")?.seconds, 15 * 86400);
    assert.equal(parseDuration("1w2d")?.seconds, 9 * 86400);
    assert.equal(parseDuration("15"), undefined);
    assert.equal(parseDuration("1.5d"), undefined);
  });
  it("accepts private networks in both families", () => {
    assert.equal(cidrProblem("10.20.0.0/16"), undefined);
    assert.equal(cidrProblem("2001:db8::/48"), undefined);
    assert.match(cidrProblem("10.20.0.1") ?? "", /no prefix length/);
  });
});
