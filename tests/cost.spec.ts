/**
 * `npm run cost`: quantities follow the stack's config, every figure comes from pricing/aws-prices.json (with its
 * source), and a price the table lacks is named and leaves the total marked partial instead of being guessed.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { GP3 } from "../config/limits";
import { HOURS_PER_MONTH, loadPriceTable, managedEstimate, PriceTable, samplesPerMonth, selfManagedEstimate, Usage } from "../scripts/lib/cost";
import { stackConfig } from "./support/stacks";
import { run } from "./support/validators";

const PROJECT = path.resolve(__dirname, "..");
const USAGE: Usage = { activeSeries: 12345, logsGiBPerDay: 3, tracesGiBPerDay: 2, snapshotGiB: 77, grafanaEditors: 2, grafanaViewers: 4 };

/** The real table with every price set to 1: the total is then the sum of the quantities. */
function unitPrices(table: PriceTable): PriceTable {
  return { ...table, prices: table.prices.map((p) => ({ ...p, usd: 1 })) };
}

describe("npm run cost", () => {
  const table = loadPriceTable();

  it("the price table has a date and a region; every price has an AWS source, every non-null price its date; nulls say why", () => {
    assert.match(table.retrieved, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(table.region.length > 0);
    const ids = table.prices.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const offerFile = new RegExp(`^https://pricing\\.us-east-1\\.amazonaws\\.com/offers/v1\\.0/aws/\\w+/current/${table.region}/index\\.json$`);
    for (const p of table.prices) {
      assert.ok(/^https:\/\/(aws\.amazon\.com|docs\.aws\.amazon\.com)\//.test(p.source) || offerFile.test(p.source), `${p.id}: ${p.source}`);
      assert.ok(p.usd === null || (typeof p.usd === "number" && p.usd > 0), p.id);
      assert.ok(p.note.length > 10, p.id);
      if (p.usd === null) continue;
      assert.match(p.retrieved ?? "", /^\d{4}-\d{2}-\d{2}$/, `${p.id} has a price but no date`);
      if (offerFile.test(p.source)) {
        // Read in a stored copy of the offer file: the note must say so and cite the exact record.
        assert.match(p.note, /^SECONDARY: /, p.id);
        assert.match(p.note, /github\.com\/[\w.-]+\/[\w.-]+, path \S+, commit [0-9a-f]{40}/, p.id);
        assert.match(p.note, /usage type \S+/, p.id);
        const quoted = (p.note.match(/\d+\.\d+/g) ?? []).map(Number);
        assert.ok(quoted.includes(p.usd), `${p.id}: the note quotes the figure ${p.usd} from the record`);
      }
    }
  });

  it("with the real table, every priced item is its price × its quantity and the total their sum", () => {
    for (const stack of ["dev", "prd"]) {
      for (const cfg of [stackConfig(stack), stackConfig(stack, { hosts: 2, secondSubnetId: "subnet-00000000000000001" })]) {
        for (const e of [selfManagedEstimate(cfg, USAGE, table), managedEstimate(cfg, USAGE, table)]) {
          let sum = 0;
          for (const i of e.items) {
            const price = table.prices.find((p) => p.id === i.priceId)?.usd ?? null;
            if (price === null || i.quantity === undefined) assert.equal(i.usd, undefined, i.what);
            else {
              assert.equal(i.usd, price * i.quantity, i.what);
              sum += price * i.quantity;
            }
          }
          assert.equal(e.knownUsd, sum, e.title);
          assert.deepEqual(e.unpriced, e.items.filter((i) => i.usd === undefined));
        }
      }
    }
  });

  for (const stack of ["dev", "prd"]) {
    it(`(${stack}) counts what the config provisions; with every price known the total is their sum`, () => {
      const cfg = stackConfig(stack);
      const e = selfManagedEstimate(cfg, USAGE, unitPrices(table));
      const q = (re: RegExp) => e.items.find((i) => re.test(i.what))?.quantity;
      assert.equal(q(/always on/), HOURS_PER_MONTH);
      assert.equal(q(/root volume/), cfg.rootVolumeSizeGiB);
      assert.equal(q(/gp3 data volume/), cfg.dataVolume.sizeGiB);
      assert.equal(q(/IOPS above/), Math.max(0, cfg.dataVolume.iops - GP3.minIops));
      assert.equal(q(/throughput above/), Math.max(0, cfg.dataVolume.throughputMiBps - GP3.minThroughput));
      assert.equal(q(/snapshots/), 77);
      assert.equal(q(/^S3/), 3 * cfg.retention.logs.seconds / 86400 + 2 * cfg.retention.traces.seconds / 86400);
      assert.deepEqual(e.unpriced, []);
      assert.equal(e.knownUsd, e.items.reduce((s, i) => s + (i.quantity as number), 0));

      const m = managedEstimate(cfg, USAGE, unitPrices(table));
      assert.equal(m.items.find((i) => /samples ingested/.test(i.what))?.quantity, samplesPerMonth(12345));
      assert.equal(m.items.find((i) => /editors/.test(i.what))?.usd, 2);
    });

    it(`(${stack}) an HA pair (hosts: 2) counts two hosts, their volumes and alarms, and the NLB`, () => {
      const single = selfManagedEstimate(stackConfig(stack), USAGE, unitPrices(table));
      const cfg = stackConfig(stack, { hosts: 2, secondSubnetId: "subnet-00000000000000001" });
      const e = selfManagedEstimate(cfg, USAGE, unitPrices(table));
      const q = (est: typeof e, re: RegExp) => est.items.find((i) => re.test(i.what))?.quantity;
      for (const re of [/always on/, /root volume/, /gp3 data volume/, /IOPS above/, /throughput above/, /status-check alarms/]) {
        assert.equal(q(e, re), 2 * (q(single, re) as number), String(re));
      }
      assert.equal(q(e, /internal NLB/), HOURS_PER_MONTH);
      assert.equal(q(single, /internal NLB/), undefined);
      // Both hosts write one set of logs and traces to the shared buckets: S3 does not double.
      assert.equal(q(e, /^S3/), q(single, /^S3/));
    });

    it(`(${stack}) names every price the table lacks and counts nothing for it`, () => {
      const cfg = stackConfig(stack);
      const e = selfManagedEstimate(cfg, USAGE, table);
      for (const i of e.items) {
        const price = table.prices.find((p) => p.id === i.priceId);
        if (price?.usd == null) {
          assert.equal(i.usd, undefined, i.what);
          assert.match(i.missing ?? "", /no price/, i.what);
        } else assert.equal(i.usd, price.usd * (i.quantity as number));
      }
    });
  }

  it("a stack in another region than the table's gets no price at all", () => {
    const cfg = { ...stackConfig("dev"), region: "us-east-1" };
    const m = managedEstimate(cfg, USAGE, unitPrices(table));
    assert.equal(m.knownUsd, 0);
    for (const i of m.items) assert.match(i.missing ?? "", /holds \S+ prices, the stack is in us-east-1/);
  });

  it("the CLI prints both estimates, says which prices were not found, and refuses bad input without a stack trace", function () {
    this.timeout(60_000);
    const tsx = path.join(PROJECT, "node_modules/.bin/tsx");
    const ok = run(tsx, ["scripts/cost.ts", "prd", "--series", "1000"], { cwd: PROJECT });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /self-managed stack prd/);
    assert.match(ok.stdout, /AMP \+ Amazon Managed Grafana/);
    assert.match(ok.stdout, /read \d{4}-\d{2}-\d{2}/);
    if (table.prices.some((p) => p.usd === null)) {
      assert.match(ok.stdout, /PARTIAL/);
      assert.match(ok.stdout, /prices NOT FOUND/);
    }
    const badOption = run(tsx, ["scripts/cost.ts", "prd", "--seris", "1"], { cwd: PROJECT });
    assert.equal(badOption.status, 2);
    assert.match(badOption.stderr, /unknown option --seris/);
    const badNumber = run(tsx, ["scripts/cost.ts", "prd", "--series", "many"], { cwd: PROJECT });
    assert.equal(badNumber.status, 2);
    assert.match(badNumber.stderr, /--series "many" is not a number/);
    const noStack = run(tsx, ["scripts/cost.ts", "nosuchstack"], { cwd: PROJECT });
    assert.equal(noStack.status, 1);
    assert.doesNotMatch(noStack.stderr, /\n\s+at /);
  });
});
