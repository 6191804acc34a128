import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import smsFilter from "../../../plugins/sms-filter/index.ts";
import type { SmsDecision } from "../../../core/hooks.ts";
import { removeDir, startPlugin, type Running } from "../number-exceptions/plugin-host.ts";
import { activation, decisionCounts, sms } from "./helpers.ts";

interface Sample {
  service: string;
  sender: string;
  text: string;
  expect: string;
  why: string;
}

const samples = parse(readFileSync(new URL("./samples.yaml", import.meta.url), "utf8")) as Sample[];

function expected(sample: Sample): SmsDecision {
  return sample.expect === "forward" ? { action: "forward" } : { action: "drop", reason: sample.expect.replace(/^drop:/, "") };
}

describe("sms-filter: the sample SMS, decided through the plugin host", () => {
  let plugin: Running;
  before(async () => {
    plugin = await startPlugin(smsFilter, {});
    assert.equal(plugin.host.status("sms-filter"), "running", JSON.stringify(plugin.host.list()));
  });
  after(async () => {
    await plugin.stop();
    await removeDir(plugin.dataDir);
  });

  it("the sample file is realistic and large enough", () => {
    assert.ok(samples.length >= 40, `${samples.length} samples`);
    assert.ok(samples.some((s) => /[а-я]/i.test(s.text)) && samples.some((s) => /^[\x20-\x7e\n]+$/.test(s.text)), "Cyrillic and Latin texts");
    assert.ok(samples.some((s) => /^\+?\d+$/.test(s.sender)) && samples.some((s) => /[a-z]/i.test(s.sender)), "numeric and alphanumeric senders");
    assert.ok(samples.some((s) => s.text.length > 160), "multipart-length texts");
    assert.ok(new Set(samples.map((s) => s.expect.split(":")[0] === "drop" ? s.expect.split(":")[1] : "forward")).size >= 4);
  });

  for (const sample of samples) {
    it(`${sample.service} ← ${JSON.stringify(sample.sender)} ${JSON.stringify(sample.text.slice(0, 40))}: ${sample.expect} (${sample.why})`, () => {
      assert.deepEqual(plugin.hooks.smsFilter.decide(sms(sample.sender, sample.text), activation(sample.service)), expected(sample));
    });
  }

  it("every decision was counted with its service, decision and reason", async () => {
    const wanted = new Map<string, number>();
    for (const sample of samples) {
      const decision = expected(sample);
      const key = decision.action === "drop" ? `${sample.service}|drop|${decision.reason}` : undefined;
      if (key) wanted.set(key, (wanted.get(key) ?? 0) + 1);
    }
    const counts = await decisionCounts(plugin.metrics);
    for (const [key, count] of wanted) assert.equal(counts.get(key), count, key);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, samples.length);
    const forwards = [...counts].filter(([key]) => key.split("|")[1] === "forward").reduce((a, [, v]) => a + v, 0);
    assert.equal(forwards, samples.filter((s) => s.expect === "forward").length);
    assert.equal(counts.get("tg|forward|own-service"), 2);
    assert.equal(counts.get("ot|forward|ot"), 8);
    assert.equal(counts.get("vk|forward|unmatched-code"), 2);
  });
});
