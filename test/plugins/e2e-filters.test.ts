/**
 * number-exceptions and sms-filter end to end with the onlinesim plugin: the
 * config goes through the hub's loader (schemas, defaults), the plugins run in
 * the real PluginHost over real activations and LevelDB, Onlinesim's requests
 * arrive over HTTP at the hub's Koa app, and PUSH_SMS goes to a partner stub
 * over HTTP.
 *
 * Not yet through `test/helpers/hub.ts`: the hub's modem layer is still the
 * interim one without numbers (core/wiring.ts), so the numbers here come from
 * a plain list, as the activations tests do.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../core/config/load.ts";
import { isSimhiveError } from "../../core/errors.ts";
import { createHttpApp } from "../../core/http/app.ts";
import { HttpServer } from "../../core/http/server.ts";
import { silentLogger } from "../../core/log.ts";
import { createMetrics } from "../../core/metrics.ts";
import { PluginHost, resolveBuiltinPlugin } from "../../core/plugins.ts";
import type { NumberInfo } from "../../core/types.ts";
import { deliverMessage, makeMessage, makeNumbers, makeRig, nextEvent, type Rig } from "../core/activations/fixtures.ts";

const API_KEY = "partner-key-0123456789";
const ADMIN_TOKEN = "number-exceptions-admin-0123456789";

/** Onlinesim's PUSH_SMS endpoint: records bodies, answers SUCCESS. */
class PushRecorder {
  readonly bodies: Record<string, unknown>[] = [];
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      this.bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "SUCCESS" }));
    });
  });

  async listen(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/push_sms`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function post(url: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/onlinesim`, { method: "POST", headers: { "content-type": "application/json", "user-agent": "onlinesim-test" }, body: JSON.stringify({ key: API_KEY, ...body }) });
  return (await response.json()) as Record<string, unknown>;
}

/** `{ service: count }` of operator `any` in russia, from GET_SERVICES. */
async function counts(url: string): Promise<Record<string, number>> {
  const reply = await post(url, { action: "GET_SERVICES" });
  const list = reply.countryList as { country: string; operatorMap: Record<string, Record<string, number>> }[];
  return list.find((c) => c.country === "russia")?.operatorMap.any ?? {};
}

function rawConfig(dataDir: string, pushUrl: string): Record<string, unknown> {
  return {
    hub: { id: "test-hub", dataDir },
    http: { host: "127.0.0.1", port: 0 },
    modems: { ports: [] },
    plugins: {
      onlinesim: { enabled: true, apiKey: API_KEY, pushUrl, services: ["vk", "tg", "ot"], retrySeconds: 0.05 },
      "number-exceptions": { enabled: true, masks: ["7916000000?"], serviceMasks: { tg: ["*5"] }, adminToken: ADMIN_TOKEN },
      "sms-filter": { enabled: true },
    },
  };
}

interface E2e {
  rig: Rig;
  host: PluginHost;
  url: string;
  numbers: NumberInfo[];
  close(): Promise<void>;
}

async function startE2e(pushUrl: string): Promise<E2e> {
  // 79160000000 … 79160000019: masks take 0000000–0000009 everywhere, and every number ending in 5 for tg.
  const numbers = makeNumbers(20);
  const rig = await makeRig(numbers);
  const loaded = await loadConfig(rawConfig(rig.dir, pushUrl), "e2e.yaml", { env: {} });
  const host = new PluginHost({
    log: silentLogger(),
    bus: rig.bus,
    store: rig.store,
    hooks: rig.hooks,
    hub: { id: "test-hub", version: "9.9.9-test", dataDir: rig.dir },
    modems: { list: () => [], get: () => undefined, command: async () => {} },
    numbers: rig.numbers,
    activations: rig.activations,
    metrics: rig.metrics,
  });
  await host.startAll(loaded.plugins, loaded.config.plugins as Record<string, Record<string, unknown>>);
  assert.ok(host.allRunning, JSON.stringify(host.list()));
  const app = createHttpApp({
    log: silentLogger(),
    metrics: createMetrics(),
    bodyLimitBytes: 1_048_576,
    requestTimeoutMs: 15_000,
    trustProxy: false,
    readiness: () => ({ ready: true, checks: {} }),
    routers: () => host.routers(),
  });
  const server = await HttpServer.listen(app, { host: "127.0.0.1", port: 0, requestTimeoutMs: 15_000 });
  return {
    rig,
    host,
    url: `http://127.0.0.1:${server.port}`,
    numbers,
    close: async () => {
      await server.close(100);
      await host.stopAll();
      await rig.close();
    },
  };
}

describe("number exceptions and SMS filtering end to end with the onlinesim plugin", () => {
  const partner = new PushRecorder();
  let e2e: E2e;
  before(async () => {
    e2e = await startE2e(await partner.listen());
  });
  after(async () => {
    await e2e.close();
    await partner.close();
  });

  it("the hub's config loader reports an invalid mask with its path", async () => {
    const raw = rawConfig("/tmp/unused", "http://127.0.0.1:9/push");
    (raw.plugins as Record<string, Record<string, unknown>>)["number-exceptions"] = { enabled: true, masks: ["7908", "79x"] };
    await assert.rejects(loadConfig(raw, "e2e.yaml", { env: {}, resolvePlugin: resolveBuiltinPlugin }), (error: unknown) => {
      assert.ok(isSimhiveError(error, "SIMHIVE_ERR_CONFIG"));
      assert.ok(error.details.some((line) => line.includes("plugins.number-exceptions.masks[1]")), error.details.join("\n"));
      return true;
    });
  });

  it("GET_SERVICES counts leave out masked numbers; GET_NUMBER never issues them, nor a request's exceptions", async () => {
    assert.deepEqual(await counts(e2e.url), { vk: 10, tg: 9, ot: 10 });
    const issued: string[] = [];
    for (;;) {
      const reply = await post(e2e.url, { action: "GET_NUMBER", country: "russia", operator: "any", service: "tg", sum: 5, exceptionPhoneSet: [79160000012, " +79160000013 "] });
      if (reply.status !== "SUCCESS") {
        assert.equal(reply.status, "NO_NUMBERS");
        break;
      }
      issued.push(String(reply.number));
      assert.ok(issued.length <= 20, "GET_NUMBER kept issuing");
    }
    assert.deepEqual(
      issued.sort(),
      ["79160000010", "79160000011", "79160000014", "79160000016", "79160000017", "79160000018", "79160000019"],
      "not 0000000–0000009 (mask), not …5 (tg mask), not …12 / …13 (request)",
    );
    // The activations above hold their numbers. What is left: …12, …13 (excluded by that request only) and …15 (not for tg).
    assert.deepEqual(await counts(e2e.url), { vk: 3, tg: 2, ot: 3 });
  });

  it("a filtered SMS never reaches the partner; an allowed one does; the drop reason is stored and counted", async () => {
    const reply = await post(e2e.url, { action: "GET_NUMBER", country: "russia", operator: "any", service: "vk", sum: 5 });
    assert.equal(reply.status, "SUCCESS");
    const activationId = reply.activationId as number;
    const number = e2e.rig.numbers.byMsisdn(String(reply.number));
    assert.ok(number);

    const telegram = makeMessage(number, "Telegram code: 61523", { sender: "Telegram" });
    const spam = makeMessage(number, "Баланс: 153,40 р. Пополните счёт", { sender: "MegaFon" });
    for (const message of [telegram, spam]) {
      const routed = nextEvent(e2e.rig.bus, "sms.routed", (p) => p.messageId === message.messageId);
      await deliverMessage(e2e.rig, message);
      assert.equal((await routed).route.state, "dropped");
    }
    const stored = (await e2e.rig.messages.get(telegram.messageId))?.route as { state: string; reason?: string; activationId?: number };
    assert.deepEqual([stored.state, stored.reason, stored.activationId], ["dropped", "other-service:tg", activationId]);
    assert.equal(((await e2e.rig.messages.get(spam.messageId))?.route as { reason?: string }).reason, "spam");

    const vk = makeMessage(number, "VK: 33708", { sender: "VK" });
    const delivered = nextEvent(e2e.rig.bus, "push.delivered", (p) => p.messageId === vk.messageId);
    await deliverMessage(e2e.rig, vk);
    await delivered;
    assert.deepEqual(
      partner.bodies.map((b) => [b.smsId, b.phoneFrom, b.text]),
      [[activationId, "VK", "VK: 33708"]],
      "only the allowed SMS was pushed",
    );

    const metric = e2e.rig.metrics.getSingleMetric("simhive_sms_filter_decisions_total");
    const values = (await metric?.get())?.values ?? [];
    const count = (reason: string, decision: string) => values.find((v) => v.labels.service === "vk" && v.labels.reason === reason && v.labels.decision === decision)?.value;
    assert.equal(count("other-service:tg", "drop"), 1);
    assert.equal(count("spam", "drop"), 1);
    assert.equal(count("own-service", "forward"), 1);
  });

  it("masks changed through the admin endpoint and by a config reload show in the next GET_SERVICES", async () => {
    const before = await counts(e2e.url);
    const put = async (masks: string[]) => {
      const response = await fetch(`${e2e.url}/number-exceptions/masks`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ masks }),
      });
      assert.equal(response.status, 200, await response.text());
    };
    await put(["*"]);
    assert.deepEqual(await counts(e2e.url), { vk: 0, tg: 0, ot: 0 });
    await put([]);
    const opened = await counts(e2e.url);
    assert.equal(opened.vk, (before.vk ?? 0) + 10, "0000000–0000009 are offered again");
    const section = (rawConfig(e2e.rig.dir, "http://127.0.0.1:9/push").plugins as Record<string, Record<string, unknown>>)["number-exceptions"];
    assert.deepEqual(await e2e.host.reload({ "number-exceptions": { ...section, masks: ["79160000"] } }), []);
    assert.deepEqual(await counts(e2e.url), { vk: 0, tg: 0, ot: 0 }, "the changed config file wins over the admin change");
  });
});
