/**
 * "Matching is fast: a compiled rule set, no per-SMS regex compilation"
 * (issue 5). Deciding SMS must construct no RegExp: the global RegExp is
 * wrapped, for the decisions only, in a Proxy that counts constructions
 * (`new RegExp(...)` and `RegExp(...)`); regex literals in the code are
 * created once, when their module is evaluated, and do not count.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import smsFilter from "../../../plugins/sms-filter/index.ts";
import { compileText, unicodeWordBoundaries } from "../../../plugins/sms-filter/rules.ts";
import { removeDir, startPlugin, type Running } from "../number-exceptions/plugin-host.ts";
import { activation, sms } from "./helpers.ts";

const samples = parse(readFileSync(new URL("./samples.yaml", import.meta.url), "utf8")) as { service: string; sender: string; text: string }[];

/** Runs `fn` with the global RegExp counting its constructions; returns the count. */
function regexpConstructions(fn: () => void): number {
  const original = globalThis.RegExp;
  let count = 0;
  globalThis.RegExp = new Proxy(original, {
    construct(target, args, newTarget) {
      count++;
      return Reflect.construct(target, args, newTarget === globalThis.RegExp ? target : newTarget);
    },
    apply(target, thisArg, args) {
      count++;
      return Reflect.apply(target, thisArg, args);
    },
  });
  try {
    fn();
  } finally {
    globalThis.RegExp = original;
  }
  return count;
}

describe("sms-filter: the rule set is compiled once", () => {
  let plugin: Running;
  before(async () => {
    plugin = await startPlugin(smsFilter, { rules: { xy: { senders: ["/^xy-\\d+$/"], texts: ["\\bИкс\\b"] } } });
    assert.equal(plugin.host.status("sms-filter"), "running", JSON.stringify(plugin.host.list()));
  });
  after(async () => {
    await plugin.stop();
    await removeDir(plugin.dataDir);
  });

  it("the counting Proxy sees a RegExp built at run time", () => {
    assert.equal(regexpConstructions(() => compileText("x")), 1, "compileText builds one");
    assert.ok(regexpConstructions(() => compileText("\\bx")) >= 1);
  });

  it("deciding every sample SMS, three times each, constructs no RegExp", () => {
    const decisions: string[] = [];
    const built = regexpConstructions(() => {
      for (let round = 0; round < 3; round++) {
        for (const sample of samples) decisions.push(JSON.stringify(plugin.hooks.smsFilter.decide(sms(sample.sender, sample.text), activation(sample.service))));
        decisions.push(JSON.stringify(plugin.hooks.smsFilter.decide(sms("XY-7", "Икс: 1234"), activation("tg"))));
      }
    });
    assert.equal(decisions.length, (samples.length + 1) * 3, "every SMS was decided");
    assert.ok(decisions.includes(JSON.stringify({ action: "drop", reason: "other-service:xy" })), "the config's own patterns were used");
    assert.equal(built, 0, `${built} RegExp built while deciding`);
  });
});

describe("sms-filter: \\b and \\B are word boundaries for every script", () => {
  const cases: [pattern: string, matching: string[], notMatching: string[]][] = [
    ["\\bАкци(я|и)\\b", ["Акция!", "акции недели", "(АКЦИЯ)"], ["транзакция", "Редакция", "акциями"]],
    ["\\bok\\.ru\\b", ["ok.ru", "m.ok.ru/x", "OK.RU:"], ["book.ru", "ok.rus"]],
    ["\\bUber\\b", ["Uber:", "Ваш Uber"], ["Uberкод", "SuperUber"]],
    ["[\\b]x", ["\bx"], ["x"]],
    ["\\\\b", ["\\b"], ["b"]],
    ["a\\Bб", ["aб"], ["a б"]],
    ["\\Bтор", ["монитор"], ["тор", "Тор!"]],
  ];
  for (const [pattern, matching, notMatching] of cases) {
    it(`${pattern} matches ${JSON.stringify(matching)} and not ${JSON.stringify(notMatching)}`, () => {
      const regex = compileText(pattern);
      for (const text of matching) assert.equal(regex.test(text), true, `${pattern} should match ${JSON.stringify(text)}`);
      for (const text of notMatching) assert.equal(regex.test(text), false, `${pattern} should not match ${JSON.stringify(text)}`);
    });
  }

  it("rewrites only \\b and \\B outside character classes", () => {
    assert.equal(unicodeWordBoundaries("a[\\b]c\\\\b\\d"), "a[\\b]c\\\\b\\d");
    assert.notEqual(unicodeWordBoundaries("\\ba"), "\\ba");
    assert.throws(() => compileText("\\b(unclosed"), /\/\\b\(unclosed\//, "a syntax error quotes the pattern as written");
  });
});
