import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { configSchema, validateConfig } from "../../../plugins/number-exceptions/config.ts";
import { MaskSet, maskProblem } from "../../../plugins/number-exceptions/masks.ts";

describe("number-exceptions masks", () => {
  const cases: [mask: string, matching: string[], notMatching: string[]][] = [
    ["7908", ["7908", "79081234567", "790800"], ["7909123", "790", "17908123"]],
    ["+7908", ["79081234567"], ["79091234567"]],
    ["7908*", ["79081234567", "7908"], ["7909123"]],
    ["7*00", ["79161234500", "700"], ["79161234501", "800"]],
    ["7916???4567", ["79161234567", "79169994567"], ["791612345670", "7916123456", "79161234568"]],
    ["?9*", ["79161234567", "19"], ["7816", "9"]],
    ["7*5*5", ["7555", "71525", "755"], ["7556", "75"]],
    ["*123", ["79000000123", "123"], ["79000001230"]],
    ["*", ["7", "79161234567"], [""]],
    ["7**9", ["79", "70009"], ["7"]],
  ];
  for (const [mask, matching, notMatching] of cases) {
    it(`"${mask}" matches ${matching.join(", ")} and not ${notMatching.join(", ") || "—"}`, () => {
      const set = MaskSet.compile([mask]);
      for (const msisdn of matching) assert.equal(set.matches(msisdn), true, `${mask} should match ${msisdn}`);
      for (const msisdn of notMatching) assert.equal(set.matches(msisdn), false, `${mask} should not match ${msisdn}`);
    });
  }

  it("a set matches when any mask does, across trie and globs", () => {
    const set = MaskSet.compile(["7908", "7916???4567", "*00"]);
    assert.equal(set.matches("79081111111"), true);
    assert.equal(set.matches("79160004567"), true);
    assert.equal(set.matches("79261111100"), true);
    assert.equal(set.matches("79261111101"), false);
    assert.equal(MaskSet.EMPTY.matches("79261111101"), false);
  });

  it("names what is wrong with an invalid mask", () => {
    assert.equal(maskProblem("79*?"), undefined);
    assert.match(maskProblem("79a1") ?? "", /"a"/);
    assert.match(maskProblem("") ?? "", /empty/);
    assert.match(maskProblem("7+9") ?? "", /digits/);
    assert.match(maskProblem(7908) ?? "", /string/);
    assert.throws(() => MaskSet.compile(["79x"]), /invalid mask/);
  });

  it("validateConfig reports every invalid mask with its config path", () => {
    const problems = validateConfig({ masks: ["7908", "7916*", "79[0-9]", "abc"], serviceMasks: { vk: ["7?", "7 9"], tg: "7908" } });
    assert.equal(problems.length, 4, problems.join("\n"));
    assert.match(problems[0] ?? "", /^plugins\.number-exceptions\.masks\[2\]: /);
    assert.match(problems[1] ?? "", /^plugins\.number-exceptions\.masks\[3\]: /);
    assert.match(problems[2] ?? "", /^plugins\.number-exceptions\.serviceMasks\.vk\[1\]: /);
    assert.match(problems[3] ?? "", /^plugins\.number-exceptions\.serviceMasks\.tg: must be a list/);
    assert.deepEqual(validateConfig({ masks: ["7908"], serviceMasks: { vk: ["7*"] } }), []);
  });

  it("the JSON Schema refuses the same masks, so ajv reports them at config load", () => {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    const validate = ajv.compile(configSchema);
    assert.equal(validate({ masks: ["7908", "+7*", "79?1"], serviceMasks: { vk: ["7"] } }), true);
    assert.equal(validate({ masks: ["7908", "7916*", "79[0-9]"] }), false);
    assert.deepEqual(
      validate.errors?.map((e) => [e.instancePath, e.keyword]),
      [["/masks/2", "pattern"]],
    );
    assert.equal(validate({ serviceMasks: { vk: ["x"] } }), false);
    assert.equal(validate.errors?.[0]?.instancePath, "/serviceMasks/vk/0");
  });
});
