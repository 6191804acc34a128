import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { isSimhiveError } from "../../core/errors.ts";
import type { PluginDefinition } from "../../core/plugins.ts";
import { capturingLogger, startTestHub, type TestHub } from "../helpers/hub.ts";
import { waitFor } from "../helpers/process.ts";

const FIXTURE_PLUGINS = new URL("../fixtures/plugins/", import.meta.url).pathname;

function recorder() {
  const events: string[] = [];
  const plugin = (name: string, extra: Partial<PluginDefinition> = {}): PluginDefinition => ({
    name,
    configSchema: { type: "object", properties: {} },
    start() {
      events.push(`start ${name}`);
      return { stop: () => void events.push(`stop ${name}`) };
    },
    ...extra,
  });
  return { events, plugin };
}

const enable = (...names: string[]) => ({ plugins: Object.fromEntries(names.map((n) => [n, { enabled: true }])) });

describe("plugin host", () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.cleanup();
  });

  it("starts in dependency order and stops in reverse", async () => {
    const { events, plugin } = recorder();
    const hub = await startTestHub({
      config: enable("c", "a", "b"),
      plugins: [plugin("a", { dependencies: ["b"] }), plugin("b"), plugin("c", { dependencies: ["a"] })],
    });
    hubs.push(hub);
    await hub.stop();
    assert.deepEqual(events, ["start b", "start a", "start c", "stop c", "stop a", "stop b"]);
  });

  it("loads only enabled plugins: a disabled one is neither started nor imported (its module throws when imported)", async () => {
    const { events, plugin } = recorder();
    const hub = await startTestHub({
      config: { hub: { pluginDirs: [FIXTURE_PLUGINS] }, plugins: { a: { enabled: true }, b: { enabled: false }, "import-throws": { enabled: false } } },
      plugins: [plugin("a"), plugin("b")],
    });
    hubs.push(hub);
    assert.deepEqual(events, ["start a"]);
    assert.deepEqual(
      hub.hub.plugins.list().map((p) => p.name),
      ["a"],
    );
  });

  it("refuses, as a config error before anything starts, a plugin whose dependency is not enabled, naming both", async () => {
    const { events, plugin } = recorder();
    await assert.rejects(
      startTestHub({ config: enable("a"), plugins: [plugin("a", { dependencies: ["missing"] })] }),
      (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_CONFIG") && error.details.some((line) => /^test\.yaml:\d+: plugins\.a: needs plugin "missing", which is not enabled$/.test(line)),
    );
    assert.deepEqual(events, []);
  });

  it("isolates a plugin whose start throws: logged by name, its dependents left stopped, the others run", async () => {
    const { events, plugin } = recorder();
    const { log, lines } = capturingLogger();
    const broken = plugin("broken", {
      start() {
        throw new Error("boom");
      },
    });
    const hub = await startTestHub({
      log,
      config: enable("broken", "needs-broken", "fine"),
      plugins: [broken, plugin("needs-broken", { dependencies: ["broken"] }), plugin("fine")],
    });
    hubs.push(hub);
    assert.deepEqual(events, ["start fine"]);
    assert.equal(hub.hub.plugins.status("broken"), "failed");
    assert.equal(hub.hub.plugins.status("needs-broken"), "failed");
    assert.equal(hub.hub.plugins.status("fine"), "running");
    assert.ok(lines.some((l) => l.plugin === "broken" && l.level === "error" && /failed to start/.test(String(l.msg))));
    const readyz = await fetch(`${hub.url}/readyz`);
    assert.equal(readyz.status, 503, "not ready while an enabled plugin is not running");
    await hub.stop();
    assert.deepEqual(events, ["start fine", "stop fine"]);
  });

  it("times out a start that never finishes and still stops the others", async () => {
    const { plugin } = recorder();
    const hub = await startTestHub({
      config: enable("hangs", "fine"),
      plugins: [plugin("hangs", { startTimeoutMs: 200, start: () => new Promise(() => {}) }), plugin("fine")],
    });
    hubs.push(hub);
    assert.equal(hub.hub.plugins.status("hangs"), "failed");
    assert.match(hub.hub.plugins.list().find((p) => p.name === "hangs")?.error ?? "", /did not finish within 200 ms/);
    assert.equal(hub.hub.plugins.status("fine"), "running");
  });

  it("refuses hooks and listeners from a start that finishes after its timeout, and stops it", async () => {
    const { events, plugin } = recorder();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let registered: (result: unknown[]) => void = () => {};
    const lateRegistrations = new Promise<unknown[]>((resolve) => (registered = resolve));
    const late = plugin("late", {
      startTimeoutMs: 100,
      async start(ctx) {
        await released;
        const results = [ctx.hooks.numberFilter(() => false), ctx.hooks.smsFilter(() => ({ action: "drop", reason: "late" })), ctx.bus.on("config.reloaded", () => {})];
        registered(results);
        return { stop: () => void events.push("stop late") };
      },
    });
    const hub = await startTestHub({ config: enable("late"), plugins: [late] });
    hubs.push(hub);
    assert.equal(hub.hub.plugins.status("late"), "failed");
    release();
    const results = await lateRegistrations;
    assert.ok(results.every((unregister) => typeof unregister === "function"), "the plugin's calls still return an unregister function");
    assert.equal(hub.hub.hooks.numberFilter.size, 0, "no numberFilter from a failed plugin");
    assert.equal(hub.hub.hooks.smsFilter.size, 0, "no smsFilter from a failed plugin");
    assert.equal(hub.hub.bus.listenerCount("config.reloaded", "late"), 0);
    const candidate = { msisdn: "79281234567", iccid: "1", imei: "1", country: "russia", operator: "mts" };
    assert.equal(hub.hub.hooks.numberFilter.allows(candidate, { marketplace: "m", service: "vk", exceptionPrefixes: [] }), true);
    await waitFor("the late start's stop", async () => (events.includes("stop late") ? true : undefined));
  });

  it("calls every stop even when one throws, and removes the plugins' listeners and hooks", async () => {
    const { events, plugin } = recorder();
    const throwsOnStop = plugin("throws-on-stop", {
      start(ctx) {
        ctx.bus.on("hub.stopping", () => {});
        ctx.hooks.numberFilter(() => true);
        return {
          stop() {
            events.push("stop throws-on-stop");
            throw new Error("stop failed");
          },
        };
      },
    });
    const hub = await startTestHub({ config: enable("first", "throws-on-stop"), plugins: [plugin("first"), throwsOnStop] });
    hubs.push(hub);
    assert.equal(hub.hub.bus.listenerCount("hub.stopping", "throws-on-stop"), 1);
    assert.equal(hub.hub.hooks.numberFilter.size, 1);
    await hub.stop();
    assert.deepEqual(events, ["start first", "stop throws-on-stop", "stop first"]);
    assert.equal(hub.hub.bus.listenerCount("hub.stopping", "throws-on-stop"), 0);
    assert.equal(hub.hub.hooks.numberFilter.size, 0);
  });

  it("isolates a throwing bus listener: the others still get the event", async () => {
    const got: string[] = [];
    const { log, lines } = capturingLogger();
    const hub = await startTestHub({
      log,
      config: enable("thrower", "listener"),
      plugins: [
        { name: "thrower", configSchema: {}, start: (ctx) => void ctx.bus.on("config.reloaded", () => { throw new Error("listener boom"); }) },
        { name: "listener", configSchema: {}, start: (ctx) => void ctx.bus.on("config.reloaded", () => void got.push("listener")) },
      ],
    });
    hubs.push(hub);
    hub.hub.bus.emit("config.reloaded", { changedSections: [] });
    assert.deepEqual(got, ["listener"]);
    assert.ok(lines.some((l) => l.owner === "thrower" && l.msg === "event listener failed"));
  });

  it("hooks: every numberFilter must allow, a throwing hook denies; smsFilter's first non-forward wins, a throw holds; throws are logged", async () => {
    const { log, lines } = capturingLogger();
    const hub = await startTestHub({
      log,
      config: enable("allow", "deny-7908"),
      plugins: [
        { name: "allow", configSchema: {}, start: (ctx) => void ctx.hooks.numberFilter(() => true) },
        {
          name: "deny-7908",
          configSchema: {},
          start(ctx) {
            ctx.hooks.numberFilter((n) => {
              if (n.msisdn === "0") throw new Error("bad");
              return !n.msisdn.startsWith("7908");
            });
            ctx.hooks.smsFilter((m) => (m.sender === "throw" ? (() => { throw new Error("x"); })() : m.sender === "spam" ? { action: "drop", reason: "spam" } : { action: "forward" }));
          },
        },
      ],
    });
    hubs.push(hub);
    const n = (msisdn: string) => ({ msisdn, iccid: "1", imei: "1", country: "russia", operator: "mts" });
    const request = { marketplace: "m", service: "vk", exceptionPrefixes: [] };
    const { numberFilter, smsFilter } = hub.hub.hooks;
    assert.equal(numberFilter.allows(n("79281234567"), request), true);
    assert.equal(numberFilter.allows(n("79081234567"), request), false);
    assert.equal(numberFilter.allows(n("0"), request), false);
    const sms = (sender: string) => ({ messageId: "1", fingerprint: "f", iccid: "1", sender, text: "t", receivedAt: 0, parts: 1, complete: true });
    const activation = { activationId: 1, marketplace: "m", msisdn: "7", iccid: "1", country: "russia", operator: "mts", service: "vk", state: "active" as const, createdAt: 0 };
    assert.deepEqual(smsFilter.decide(sms("VK"), activation), { action: "forward" });
    assert.deepEqual(smsFilter.decide(sms("spam"), activation), { action: "drop", reason: "spam" });
    assert.deepEqual(smsFilter.decide(sms("throw"), activation), { action: "hold", reason: "hook-error:deny-7908" });
    const logged = lines.filter((l) => l.level === "error" && l.owner === "deny-7908").map((l) => [l.hook, l.msg, (l.err as { message?: string } | undefined)?.message]);
    assert.deepEqual(logged, [
      ["numberFilter", "hook threw; counted as deny", "bad"],
      ["smsFilter", "hook threw; the SMS is held", "x"],
    ]);
  });

  it("logs a hook that keeps throwing once, again after it recovered, and counts every failure", async () => {
    const { log, lines } = capturingLogger();
    let broken = true;
    const hub = await startTestHub({
      log,
      config: enable("flaky"),
      plugins: [
        {
          name: "flaky",
          configSchema: {},
          start: (ctx) =>
            void ctx.hooks.numberFilter(() => {
              if (broken) throw new Error("flaky hook");
              return true;
            }),
        },
      ],
    });
    hubs.push(hub);
    const { numberFilter } = hub.hub.hooks;
    const request = { marketplace: "m", service: "vk", exceptionPrefixes: [] };
    // One GET_SERVICES: every number × service.
    for (let i = 0; i < 300; i++) assert.equal(numberFilter.allows({ msisdn: `7928${i}`, iccid: "1", imei: "1", country: "russia", operator: "mts" }, request), false);
    const failures = () => lines.filter((l) => l.owner === "flaky" && l.msg === "hook threw; counted as deny");
    assert.equal(failures().length, 1, "one line, not one per number");
    broken = false;
    assert.equal(numberFilter.allows({ msisdn: "79280", iccid: "1", imei: "1", country: "russia", operator: "mts" }, request), true);
    assert.ok(lines.some((l) => l.owner === "flaky" && l.msg === "hook works again" && l.failures === 300));
    broken = true;
    numberFilter.allows({ msisdn: "79280", iccid: "1", imei: "1", country: "russia", operator: "mts" }, request);
    assert.equal(failures().length, 2, "logged again once it failed after recovering");
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    assert.match(metrics, /^simhive_hook_failures_total\{hook="numberFilter",owner="flaky"\} 301$/m);
  });
});
