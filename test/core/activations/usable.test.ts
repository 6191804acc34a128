/**
 * "Usable for this request": the one rule behind counts() (GET_SERVICES) and
 * reserve() (GET_NUMBER). What a marketplace is told it can have must be
 * exactly what it is then given.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normaliseExceptionPrefixes } from "../../../core/activations/exceptions.ts";
import type { Activation, CountTree, NumberRequest } from "../../../core/activations/types.ts";
import type { NumberInfo } from "../../../core/types.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { makeNumbers, makeRig, type Rig } from "./fixtures.ts";

const request = (service: string, extra: Partial<NumberRequest> = {}): NumberRequest => ({ marketplace: "onlinesim", service, exceptionPrefixes: [], ...extra });

/** Reserves until nothing fits; the activations are returned (still active). */
async function drain(rig: Rig, req: NumberRequest): Promise<Activation[]> {
  const taken: Activation[] = [];
  for (let activation = await rig.activations.reserve(req); activation; activation = await rig.activations.reserve(req)) taken.push(activation);
  return taken;
}

async function refundAll(rig: Rig, activations: readonly Activation[]): Promise<void> {
  for (const activation of activations) await rig.activations.finish("onlinesim", activation.activationId, 5, "refunded");
}

/** Runs `work` with only `number` in the pool: the way to give one chosen number a history. */
async function onlyWith<T>(rig: Rig, number: NumberInfo, work: () => Promise<T>): Promise<T> {
  const all = rig.numbers.numbers;
  rig.numbers.numbers = [number];
  try {
    return await work();
  } finally {
    rig.numbers.numbers = all;
  }
}

function sum(tree: CountTree, service: string, country?: string): number {
  let total = 0;
  for (const [name, operators] of tree) {
    if (country !== undefined && name !== country) continue;
    for (const byService of operators.values()) total += byService.get(service) ?? 0;
  }
  return total;
}

/** A small deterministic PRNG (mulberry32), so the property test is repeatable. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("activations: one rule decides what is counted and what is issued", () => {
  it("at the cancel limit reserve() gives nothing for that service, and counts() says 0", async () => {
    const rig = await makeRig(makeNumbers(1), { cancelLimit: 2 });
    try {
      for (let i = 0; i < 2; i++) {
        const activation = await rig.activations.reserve(request("tg"));
        assert.ok(activation, `cancellation ${i + 1} is still under the limit`);
        await rig.activations.finish("onlinesim", activation.activationId, 4, "cancelled");
      }
      assert.equal(await rig.activations.reserve(request("tg")), null, "at the limit");
      assert.equal(sum(rig.activations.counts("onlinesim", ["tg"]), "tg"), 0);
      const other = await rig.activations.reserve(request("vk"));
      assert.ok(other, "other services still get the number");
    } finally {
      await rig.close();
    }
  });

  it("property: for every service, country and operator, the count is the number of successful reserves in a row", async () => {
    const cancelLimit = 3;
    const services = ["vk", "wa", "tg", "ot"];
    const next = random(20_261_122);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const numbers = makeNumbers(24, { operator: () => pick(["mts", "mts", "beeline", "tele2", "unknown"]) }).map((n) => ({
      ...n,
      country: pick(["russia", "russia", "russia", "kazakhstan", "unknown"]),
    }));
    const rig = await makeRig(numbers, { cancelLimit });
    try {
      // History around the edges of every rule: sold, refused, cancellations at limit - 1 and at the limit.
      for (const number of numbers) {
        for (const service of services) {
          const roll = next();
          const cancellations = roll < 0.2 ? cancelLimit - 1 : roll < 0.4 ? cancelLimit : 0;
          await onlyWith(rig, number, async () => {
            for (let i = 0; i < cancellations; i++) {
              const activation = await rig.activations.reserve(request(service));
              if (activation) await rig.activations.finish("onlinesim", activation.activationId, 4, "cancelled");
            }
            if (roll > 0.9) {
              const activation = await rig.activations.reserve(request(service));
              if (activation) await rig.activations.finish("onlinesim", activation.activationId, roll > 0.95 ? 3 : 1, roll > 0.95 ? "sold" : "refused");
            }
          });
        }
      }
      // A few busy numbers, a hook excluding some for one service, a number gone.
      for (const number of numbers.filter(() => next() < 0.15)) await onlyWith(rig, number, () => rig.activations.reserve(request(pick(services))));
      rig.hooks.numberFilter.register("test", (candidate, req) => !(req.service === "wa" && candidate.msisdn.endsWith("7")));
      rig.numbers.remove((numbers[5] as NumberInfo).msisdn);

      for (const service of services) {
        const tree = rig.activations.counts("onlinesim", services);
        assert.equal(tree.has("unknown"), false, "a SIM of unknown country is not counted");
        for (const [country, operators] of tree) {
          for (const [operator, byService] of operators) {
            if (operator === "any") continue; // unknown operators: only in the country's total below
            const taken = await drain(rig, request(service, { country, operator }));
            assert.equal(taken.length, byService.get(service) ?? 0, `${service} ${country}/${operator}`);
            await refundAll(rig, taken);
          }
          const inCountry = await drain(rig, request(service, { country, operator: "any" }));
          assert.equal(inCountry.length, sum(tree, service, country), `${service} ${country}/any`);
          await refundAll(rig, inCountry);
        }
        const everywhere = await drain(rig, request(service));
        assert.equal(everywhere.length, sum(tree, service), `${service} anywhere`);
        assert.ok(everywhere.every((a) => a.country !== "unknown"), "a SIM of unknown country is never issued");
        await refundAll(rig, everywhere);
      }
    } finally {
      await rig.close();
    }
  });
});

describe("activations: SIMs whose country or operator is unknown", () => {
  // What core/modems reports for a SIM whose MCC/MNC is not in the table.
  const known = makeNumbers(1)[0] as NumberInfo;
  const noCountry = makeNumbers(1, { base: 79_990_000_000, country: "unknown", operator: "unknown" })[0] as NumberInfo;
  const noCountryButOperator = makeNumbers(1, { base: 79_970_000_000, country: "unknown", operator: "beeline" })[0] as NumberInfo;
  const noOperator = makeNumbers(1, { base: 79_980_000_000, operator: "unknown" })[0] as NumberInfo;

  it("an unknown country is neither counted nor issued; an unknown operator counts and is issued only as `any`", async () => {
    const capture = capturingLogger();
    const rig = await makeRig([known, noCountry, noCountryButOperator, noOperator], {}, undefined, undefined, capture.log);
    try {
      const tree = rig.activations.counts("onlinesim", ["vk"]);
      assert.deepEqual([...tree.keys()], ["russia"]);
      const russia = tree.get("russia");
      assert.deepEqual([...(russia?.keys() ?? [])].sort(), ["any", "mts"], "no operator named unknown");
      assert.equal(russia?.get("mts")?.get("vk"), 1);
      assert.equal(russia?.get("any")?.get("vk"), 1, "the SIM of unknown operator counts under any only");

      assert.equal(await rig.activations.reserve(request("vk", { country: "unknown" })), null);
      assert.equal(await rig.activations.reserve(request("vk", { operator: "unknown" })), null);
      assert.equal(await rig.activations.reserve(request("vk", { operator: "beeline" })), null, "a known operator in an unknown country is not offered either");
      const mts = await rig.activations.reserve(request("vk", { operator: "mts" }));
      assert.equal(mts?.msisdn, known.msisdn);
      const any = await rig.activations.reserve(request("vk", { country: "russia", operator: "any" }));
      assert.equal(any?.msisdn, noOperator.msisdn);
      assert.equal(await rig.activations.reserve(request("vk")), null, "nothing else is issued");

      rig.activations.counts("onlinesim", ["vk", "wa"]);
      const warnings = capture.lines.filter((line) => line.level === "warn" && typeof line.iccid === "string");
      assert.deepEqual(warnings.map((line) => line.iccid).sort(), [noCountry.iccid, noCountryButOperator.iccid, noOperator.iccid].sort(), "one warning per ICCID, however often asked");
      for (const line of warnings) assert.match(String(line.msg), new RegExp(`modems\\.operators\\.${line.iccid as string}`));
    } finally {
      await rig.close();
    }
  });
});

describe("activations: request exceptions are core's (they hold without any numberFilter hook)", () => {
  const NUMBERS = ["79081234567", "79081110000", "79161234567", "79169994567", "79260000100", "77011234567", "380501234567"].map(
    (msisdn, index) => ({ ...(makeNumbers(1, { base: 79_000_000_000 + index })[0] as NumberInfo), msisdn }),
  );

  /** What a request with these raw exceptions may be given, draining the pool and handing everything back. */
  async function issuable(rig: Rig, exceptionPrefixes: readonly (string | number)[]): Promise<string[]> {
    const taken = await drain(rig, request("vk", { exceptionPrefixes }));
    await refundAll(rig, taken);
    return taken.map((a) => a.msisdn).sort();
  }

  it("normalises the raw entries: integers, strings, '+', spaces and dashes; entries without a digit ignored", () => {
    assert.deepEqual(normaliseExceptionPrefixes([7908, "7916", "+7 926", " 7-999 ", "", "+", null, 1.5, -7, {}]), ["7908", "7916", "7926", "7999"]);
    assert.deepEqual(normaliseExceptionPrefixes([]), []);
  });

  it("integers and strings, '+', spaces and dashes stripped; entries without a digit exclude nothing", async () => {
    const rig = await makeRig(NUMBERS);
    try {
      assert.equal(rig.hooks.numberFilter.size, 0);
      const all = NUMBERS.map((n) => n.msisdn).sort();
      assert.deepEqual(await issuable(rig, [7908, "7916"]), ["380501234567", "77011234567", "79260000100"]);
      assert.deepEqual(await issuable(rig, ["+7 926", " +380 ", "7-701"]), ["79081110000", "79081234567", "79161234567", "79169994567"]);
      assert.deepEqual(await issuable(rig, ["+", "", " - "]), all, "entries without digits exclude nothing");
      assert.deepEqual(await issuable(rig, []), all);
      assert.deepEqual(await issuable(rig, ["79081234567"]), all.filter((m) => m !== "79081234567"), "a whole number is a prefix of itself only");
    } finally {
      await rig.close();
    }
  });

  it("the numberFilter hooks see the request's exceptions normalised", async () => {
    const rig = await makeRig(NUMBERS.slice(0, 1));
    try {
      const seen: (readonly (string | number)[])[] = [];
      rig.hooks.numberFilter.register("test", (_candidate, req) => {
        seen.push(req.exceptionPrefixes);
        return true;
      });
      await rig.activations.reserve(request("vk", { exceptionPrefixes: [7999, "+7 998", "+"] }));
      assert.deepEqual(seen, [["7999", "7998"]]);
    } finally {
      await rig.close();
    }
  });
});
