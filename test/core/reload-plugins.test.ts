import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { PluginDefinition } from "../../core/plugins.ts";
import type { SmsMessage } from "../../core/types.ts";
import { capturingLogger, startTestHub, type TestHub } from "../helpers/hub.ts";

function recorder() {
  const events: string[] = [];
  const sections: Record<string, unknown>[] = [];
  const plugin = (name: string, extra: Partial<PluginDefinition> = {}): PluginDefinition => ({
    name,
    configSchema: { type: "object", properties: { level: { type: "integer", default: 1 } } },
    start(ctx) {
      events.push(`start ${name}`);
      ctx.hooks.numberFilter(() => true);
      ctx.router.get("/", (koa) => void (koa.body = { plugin: name }));
      return {
        stop: () => void events.push(`stop ${name}`),
        reload: (section: Record<string, unknown>) => void sections.push(section),
      };
    },
    ...extra,
  });
  return { events, sections, plugin };
}

describe("config reload (SIGHUP): plugins", () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.cleanup();
  });

  it("stops a plugin set to enabled: false and starts newly enabled ones in dependency order", async () => {
    const { events, sections, plugin } = recorder();
    const hub = await startTestHub({
      config: { plugins: { old: { enabled: true } } },
      plugins: [plugin("old"), plugin("base"), plugin("needs-base", { dependencies: ["base"] })],
    });
    hubs.push(hub);
    assert.equal((await fetch(`${hub.url}/old`)).status, 200);

    const result = await hub.reconfigure({ plugins: { old: { enabled: false, level: "not even valid" }, "needs-base": { enabled: true }, base: { enabled: true } } });
    assert.deepEqual(result, { ok: true, restartNeeded: [] });
    assert.deepEqual(events, ["start old", "stop old", "start base", "start needs-base"]);
    assert.deepEqual(sections, [], "a disabled plugin's section is not handed to it");
    assert.equal((await fetch(`${hub.url}/old`)).status, 404, "the disabled plugin's routes are gone");
    assert.equal((await fetch(`${hub.url}/needs-base`)).status, 200, "the new plugin's routes serve");
    assert.deepEqual(hub.hub.plugins.list(), [
      { name: "base", status: "running" },
      { name: "needs-base", status: "running" },
    ]);
    assert.equal(hub.hub.hooks.numberFilter.size, 2, "the disabled plugin's hook went with it");
    assert.equal((await fetch(`${hub.url}/readyz`)).status, 200);

    await hub.reconfigure({ plugins: { base: { enabled: true, level: 2 } } });
    assert.deepEqual(events.slice(4), ["stop needs-base"]);
    assert.deepEqual(sections, [{ enabled: true, level: 2 }], "a running plugin gets its new, validated section");
  });

  it("keeps the running config when the new one enables a plugin whose dependency is not enabled", async () => {
    const { events, plugin } = recorder();
    const hub = await startTestHub({ config: { plugins: { base: { enabled: true } } }, plugins: [plugin("base"), plugin("needs-base", { dependencies: ["base"] })] });
    hubs.push(hub);
    const result = await hub.reconfigure({ plugins: { base: { enabled: false }, "needs-base": { enabled: true } } });
    assert.equal(result.ok, false);
    assert.equal(result.errors?.length, 1);
    assert.match(result.errors?.[0] ?? "", /^test\.yaml:\d+: plugins\.needs-base: needs plugin "base", which is not enabled$/);
    assert.deepEqual(events, ["start base"]);
  });

  it("onlinesim set to enabled: false (with a section it would reject) stops serving; sms-filter added starts", async () => {
    const { log, lines } = capturingLogger();
    const onlinesim = { enabled: true, apiKey: "reload-key", pushUrl: "http://127.0.0.1:9/push", services: ["vk"] };
    const hub = await startTestHub({ log, config: { plugins: { onlinesim } } });
    hubs.push(hub);
    const services = () => fetch(`${hub.url}/onlinesim?action=GET_SERVICES&apikey=reload-key`);
    assert.equal((await services()).status, 200);
    const result = await hub.reconfigure({ plugins: { onlinesim: { ...onlinesim, enabled: false, services: 42 }, "sms-filter": { enabled: true } } });
    assert.equal(result.ok, true);
    assert.equal((await services()).status, 404);
    assert.equal(hub.hub.plugins.status("onlinesim"), undefined);
    assert.equal(hub.hub.plugins.status("sms-filter"), "running");
    assert.deepEqual(
      lines.filter((l) => l.level === "error" || l.level === "fatal"),
      [],
    );
  });
});

describe("config reload (SIGHUP): core", () => {
  it("applies debug.logSmsText from the reloaded config to the next SMS", async () => {
    const { log, lines } = capturingLogger();
    const hub = await startTestHub({ log });
    try {
      const message: SmsMessage = { messageId: "1", fingerprint: "f", iccid: "8970100000000000001", sender: "+79161112233", text: "code 734215", receivedAt: 0, parts: 1, complete: true };
      const received = () => lines.filter((l) => String(l.msg).startsWith("sms received"));
      hub.hub.bus.emit("sms.received", { message });
      assert.equal(received()[0]?.smsText, undefined);
      assert.equal((await hub.reconfigure({ debug: { logSmsText: true } })).ok, true);
      hub.hub.bus.emit("sms.received", { message });
      assert.equal(received()[1]?.smsText, "code 734215");
    } finally {
      await hub.cleanup();
    }
  });
});
