import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import smsFilter from "../../../plugins/sms-filter/index.ts";
import { configSchema, validateConfig } from "../../../plugins/sms-filter/config.ts";
import type { SmsDecision } from "../../../core/hooks.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { pluginStarter, removeDir, type Running } from "../number-exceptions/plugin-host.ts";
import { activation, decisionCounts, sms } from "./helpers.ts";

const FORWARD: SmsDecision = { action: "forward" };
const drop = (reason: string): SmsDecision => ({ action: "drop", reason });

describe("sms-filter config: mode, overrides, policies, errors, reload", () => {
  const dirs: string[] = [];
  const start = pluginStarter(smsFilter);
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "simhive-sms-filter-"));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    for (const dir of dirs) await removeDir(dir);
  });

  it("mode off forwards everything, spam and other services included, and counts it", async () => {
    const { hooks, metrics } = await start({ mode: "off" });
    assert.deepEqual(hooks.smsFilter.decide(sms("MegaFon", "Баланс: 10 р."), activation("vk")), FORWARD);
    assert.deepEqual(hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("tg")), FORWARD);
    const counts = await decisionCounts(metrics);
    assert.equal(counts.get("vk|forward|mode-off"), 1);
    assert.equal(counts.get("tg|forward|mode-off"), 1);
  });

  it("mode on (the default) drops them, and counts each reason", async () => {
    const { hooks, metrics } = await start({});
    assert.deepEqual(hooks.smsFilter.decide(sms("MegaFon", "Баланс: 10 р."), activation("vk")), drop("spam"));
    assert.deepEqual(hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("tg")), drop("other-service:vk"));
    assert.deepEqual(hooks.smsFilter.decide(sms("VK", "VK: 33709"), activation("tg")), drop("other-service:vk"));
    const counts = await decisionCounts(metrics);
    assert.equal(counts.get("vk|drop|spam"), 1);
    assert.equal(counts.get("tg|drop|other-service:vk"), 2);
  });

  it("config rules extend the shipped ones, add services and spam patterns", async () => {
    const { hooks } = await start({
      rules: { vk: { senders: ["VK Connect Bot", "/^vk-\\d+$/"], texts: ["ВК-код"] }, ds: { name: "Discord", senders: ["Discord"], texts: ["Discord"] } },
      spam: { texts: ["Лотерея"] },
    });
    assert.deepEqual(hooks.smsFilter.decide(sms("vk connect bot", "1234"), activation("vk")), FORWARD, "an added sender");
    assert.deepEqual(hooks.smsFilter.decide(sms("VK-7", "1234"), activation("tg")), drop("other-service:vk"), "an added sender pattern");
    assert.deepEqual(hooks.smsFilter.decide(sms("+79161234567", "Ваш ВК-код 1234"), activation("vk")), FORWARD);
    assert.deepEqual(hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("vk")), FORWARD, "the shipped sender still counts");
    assert.deepEqual(hooks.smsFilter.decide(sms("Discord", "Your Discord code 123456"), activation("tg")), drop("other-service:ds"));
    assert.deepEqual(hooks.smsFilter.decide(sms("Discord", "Your Discord code 123456"), activation("ds")), FORWARD);
    assert.deepEqual(hooks.smsFilter.decide(sms("+79161234567", "Лотерея! Ваш билет выиграл главный приз"), activation("ds")), drop("spam"));
    assert.deepEqual(hooks.smsFilter.decide(sms("+79161234567", "Лотерея! Ваш код участника 123456"), activation("ds")), FORWARD, "a spam text with a code from a non-operator sender is forwarded");
    assert.deepEqual(hooks.smsFilter.decide(sms("MegaFon", "x"), activation("ds")), drop("spam"), "the shipped spam still counts");
  });

  it("replace: true overrides a shipped service rule and the shipped spam list", async () => {
    const { hooks } = await start({ rules: { vk: { replace: true, senders: ["VKNEW"] } }, spam: { replace: true, senders: ["AdSender"] } });
    assert.deepEqual(hooks.smsFilter.decide(sms("VKNEW", "Привет"), activation("vk")), FORWARD);
    assert.deepEqual(hooks.smsFilter.decide(sms("VKNEW", "Привет"), activation("tg")), drop("other-service:vk"));
    assert.deepEqual(hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("tg")), FORWARD, "VK is no longer known: unmatched with a code");
    assert.deepEqual(hooks.smsFilter.decide(sms("MegaFon", "Баланс 1234"), activation("tg")), FORWARD, "shipped spam replaced");
    assert.deepEqual(hooks.smsFilter.decide(sms("AdSender", "1234"), activation("tg")), drop("spam"));
  });

  it("ot receives known services by default; otRefuses (codes, names or \"*\") keeps them from it; unmatched policies forward or drop", async () => {
    const byDefault = await start({});
    assert.deepEqual(byDefault.hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("ot")), FORWARD, "issue 5: ot accepts everything that is not spam");
    assert.deepEqual(byDefault.hooks.smsFilter.decide(sms("+79161234567", "Telegram code 70315"), activation("ot")), FORWARD);
    assert.deepEqual(byDefault.hooks.smsFilter.decide(sms("MegaFon", "Баланс: 10 р."), activation("ot")), drop("spam"));

    const refuses = await start({ otRefuses: ["vk", "Telegram"] });
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("VK", "VK: 33708"), activation("ot")), drop("other-service:vk"));
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("+79161234567", "Telegram code 70315"), activation("ot")), drop("other-service:tg"), "a name is its code");
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("Google", "G-123456 is your Google verification code."), activation("ot")), FORWARD, "not listed: received");
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("Google", "G-123456"), activation("other")), FORWARD, "other is ot");
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("VK", "VK: 1"), activation("other")), drop("other-service:vk"));
    assert.deepEqual(refuses.hooks.smsFilter.decide(sms("Google", "G-123456"), activation("vk")), drop("other-service:go"), "named services are unaffected");

    const all = await start({ otRefuses: ["*"] });
    for (const [sender, text, code] of [["Google", "G-123456", "go"], ["Uber", "Your Uber code: 4821", "ub"], ["+79161234567", "Код для входа в Одноклассниках: 381920", "ok"]] as const) {
      assert.deepEqual(all.hooks.smsFilter.decide(sms(sender, text), activation("ot")), drop(`other-service:${code}`), `"*" refuses ${code}`);
    }
    assert.deepEqual(all.hooks.smsFilter.decide(sms("Lamoda", "Код для входа в Lamoda: 8842"), activation("ot")), FORWARD, "an unknown service still reaches ot");

    const unknown = await start({ otRefuses: ["vk", "vkk"] });
    assert.equal(unknown.host.status("sms-filter"), "failed");
    assert.match(unknown.host.list()[0]?.error ?? "", /plugins\.sms-filter\.otRefuses\[1\]: "vkk" is not a service in the rules/);
    const legacy = await start({ otAllows: ["go"] });
    assert.equal(legacy.host.status("sms-filter"), "failed", "the old otAllows key is refused, not ignored");
    assert.match(legacy.host.list()[0]?.error ?? "", /plugins\.sms-filter\.otAllows: replaced by otRefuses/);

    const forwardAll = await start({ unmatched: "forward" });
    assert.deepEqual(forwardAll.hooks.smsFilter.decide(sms("+79161234567", "Привет"), activation("vk")), FORWARD);
    const dropAll = await start({ unmatched: "drop" });
    assert.deepEqual(dropAll.hooks.smsFilter.decide(sms("+79161234567", "Ваш код 5813"), activation("vk")), drop("no-match"));
    assert.deepEqual(dropAll.hooks.smsFilter.decide(sms("VK", "VK: 5813"), activation("vk")), FORWARD);
  });

  it("invalid patterns in config fail the start with their config path", async () => {
    const { host, hooks } = await start({ rules: { vk: { texts: ["VK", "(unclosed"] }, tg: { senders: ["/[z-a]/"] } }, spam: { texts: ["\\p{Nope}"] } });
    assert.equal(host.status("sms-filter"), "failed");
    const error = host.list()[0]?.error ?? "";
    assert.match(error, /plugins\.sms-filter\.rules\.vk\.texts\[1\]: invalid regular expression/);
    assert.match(error, /plugins\.sms-filter\.rules\.tg\.senders\[0\]: invalid regular expression/);
    assert.match(error, /plugins\.sms-filter\.spam\.texts\[0\]: invalid regular expression/);
    assert.equal(hooks.smsFilter.size, 0);
    assert.deepEqual(validateConfig({ rules: { vk: { texts: ["ok"], sender: ["x"] } } }), ["plugins.sms-filter.rules.vk.sender: unknown key"]);
  });

  it("the JSON Schema lets ajv report shape and regex syntax with the path", () => {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(configSchema);
    const section: Record<string, unknown> = {};
    assert.equal(validate(section), true);
    assert.equal(section.mode, "on");
    assert.equal(section.unmatched, "forward-if-code");
    assert.equal(validate({ mode: "sometimes", rules: { vk: { texts: ["(x"] } } }), false);
    assert.deepEqual(validate.errors?.map((e) => e.instancePath).sort(), ["/mode", "/rules/vk/texts/0"]);
    assert.equal(validate({ otRefuses: ["*", "vk", "Telegram"] }), true);
    assert.equal(validate({ otRefuses: ["**"] }), false);
    assert.equal(validate({ otAllows: ["vk"] }), false, "the replaced key is unknown to the schema");
  });

  it("a rulesFile replaces the shipped rules; its errors name the file and the path inside", async () => {
    const dir = await tempDir();
    const good = join(dir, "rules.yaml");
    await writeFile(good, "spam:\n  senders: [Promo]\nservices:\n  xy:\n    senders: [XY]\n    texts: ['XY code']\n");
    const { hooks } = await start({ rulesFile: good });
    assert.deepEqual(hooks.smsFilter.decide(sms("XY", "1"), activation("tg")), drop("other-service:xy"));
    assert.deepEqual(hooks.smsFilter.decide(sms("Telegram", "Telegram code 12345"), activation("vk")), FORWARD, "shipped rules are not loaded");
    assert.deepEqual(hooks.smsFilter.decide(sms("Promo", "1"), activation("vk")), drop("spam"));

    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "services:\n  xy:\n    texts: ['ok', '[']\n  tg:\n    alias: [x]\n");
    const failed = await start({ rulesFile: bad });
    assert.equal(failed.host.status("sms-filter"), "failed");
    const error = failed.host.list()[0]?.error ?? "";
    assert.ok(error.includes(`plugins.sms-filter.rulesFile: ${bad}.services.xy.texts[1]: invalid regular expression`), error);
    assert.ok(error.includes(`${bad}.services.tg.alias: unknown key`), error);

    const missing = await start({ rulesFile: join(dir, "nope.yaml") });
    assert.match(missing.host.list()[0]?.error ?? "", /plugins\.sms-filter\.rulesFile: cannot read .*nope\.yaml/);
  });

  it("reload swaps the rules; an invalid reload keeps the previous ones; SIGHUP re-reads the rulesFile", async () => {
    const dir = await tempDir();
    const file = join(dir, "rules.yaml");
    await writeFile(file, "services:\n  xy:\n    senders: [XY]\n");
    const { host, hooks } = await start({ rulesFile: file });
    const spam = sms("MegaFon", "Баланс 100");
    assert.deepEqual(hooks.smsFilter.decide(sms("XY", "1"), activation("tg")), drop("other-service:xy"));

    assert.deepEqual(await host.reload({ "sms-filter": { rulesFile: file, mode: "off" } }), []);
    assert.deepEqual(hooks.smsFilter.decide(sms("XY", "1"), activation("tg")), FORWARD);
    await host.reload({ "sms-filter": { rulesFile: file, mode: "on", rules: { xy: { texts: ["("] } } } });
    assert.deepEqual(hooks.smsFilter.decide(sms("XY", "1"), activation("tg")), FORWARD, "the rejected config left mode off in force");
    await host.reload({ "sms-filter": {} });
    assert.deepEqual(hooks.smsFilter.decide(spam, activation("tg")), drop("spam"), "back to the shipped rules");
    assert.deepEqual(hooks.smsFilter.decide(sms("XY", "1234"), activation("tg")), FORWARD, "xy is unknown again: unmatched with a code");

    // The section is unchanged but the file changed: the config.reloaded event re-reads it.
    const other = await start({ rulesFile: file });
    await writeFile(file, "services:\n  zz:\n    senders: [ZZ]\n");
    await emitReloaded(other);
    assert.deepEqual(other.hooks.smsFilter.decide(sms("ZZ", "1"), activation("tg")), drop("other-service:zz"));
    assert.deepEqual(other.hooks.smsFilter.decide(sms("XY", "1234"), activation("tg")), FORWARD);
  });

  it("a rules-file re-read that a newer reload overtook does not overwrite the newer rules", async () => {
    // The first SIGHUP's re-read is held on a FIFO until the test writes it; a
    // second reload runs to completion meanwhile. Then the first read finishes.
    const dir = await tempDir();
    const file = join(dir, "rules.yaml");
    const newer = join(dir, "newer.yaml");
    await writeFile(file, "services:\n  xy:\n    senders: [XY]\n");
    await writeFile(newer, "services:\n  nw:\n    senders: [NW]\n");
    const { log, lines } = capturingLogger();
    const plugin = await start({ rulesFile: file }, { log });
    const decideFor = (sender: string) => plugin.hooks.smsFilter.decide(sms(sender, "1"), activation("tg"));
    assert.deepEqual(decideFor("XY"), drop("other-service:xy"));

    await rm(file);
    execFileSync("mkfifo", [file]);
    plugin.bus.emit("config.reloaded", { changedSections: [] }); // reads `file`: blocks until the FIFO is written
    assert.deepEqual(await plugin.host.reload({ "sms-filter": { rulesFile: newer } }), []);
    assert.deepEqual(decideFor("NW"), drop("other-service:nw"), "the newer reload is in force");

    await writeFifo(file, "services:\n  old:\n    senders: [OLD]\n");
    // Wait (hang guard 10 s) until the older read is done: either it was applied (the bug) or discarded.
    const discarded = () => lines.some((line) => line.msg === "rules re-read overtaken by a newer reload; discarded");
    const applied = () => (decideFor("OLD") as { reason?: string }).reason === "other-service:old";
    for (let i = 0; i < 1000 && !discarded() && !applied(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(decideFor("OLD"), { action: "drop", reason: "no-match" }, "the older read's rules were not applied");
    assert.deepEqual(decideFor("NW"), drop("other-service:nw"), "the newer rules stay");
    assert.ok(discarded());
  });
});

/** Writes `text` into a FIFO once a reader has it open (polled, without blocking a libuv thread). */
async function writeFifo(path: string, text: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      const handle = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
      await handle.write(text);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENXIO") throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error(`nobody opened ${path} for reading`);
}

/** Emits `config.reloaded` as the core does after a SIGHUP, and waits (hang guard 10 s) for the async re-read. */
async function emitReloaded(plugin: Running): Promise<void> {
  plugin.bus.emit("config.reloaded", { changedSections: [] });
  for (let i = 0; i < 1000; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Before the re-read, ZZ is unknown and "1" has no code: dropped as no-match. After it, zz is a known other service.
    const decision = plugin.hooks.smsFilter.decide(sms("ZZ", "1"), activation("tg"));
    if (decision.action === "drop" && decision.reason === "other-service:zz") return;
  }
}
