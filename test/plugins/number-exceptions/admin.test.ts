/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are read loosely in tests */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import numberExceptions from "../../../plugins/number-exceptions/index.ts";
import { isLoopback, tokenMatches } from "../../../plugins/number-exceptions/admin.ts";
import type { Hooks } from "../../../core/hooks.ts";
import { number, removeDir, request, serveRouters, startPlugin, type Running } from "./plugin-host.ts";

const TOKEN = "s3cret-admin-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

function allows(hooks: Hooks, msisdn: string, service = "vk"): boolean {
  return hooks.numberFilter.allows(number(msisdn), request(service));
}

async function call(url: string, method: "GET" | "PUT", headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${url}/number-exceptions/masks`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

describe("number-exceptions admin endpoint over HTTP", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function serve(section: Record<string, unknown>, options: { dataDir?: string; proxy?: boolean } = {}): Promise<Running & { url: string; close(): Promise<void> }> {
    const plugin = await startPlugin(numberExceptions, section, options.dataDir ? { dataDir: options.dataDir } : {});
    const server = await serveRouters(plugin.host, { proxy: options.proxy ?? false });
    const close = async () => {
      await server.close();
      await plugin.stop();
    };
    cleanups.push(close);
    return { ...plugin, url: server.url, close };
  }

  it("is off (404) without an adminToken", async () => {
    const { url } = await serve({ masks: ["7908"] });
    assert.equal((await call(url, "GET", auth)).status, 404);
    assert.equal((await call(url, "PUT", auth, { masks: [] })).status, 404);
  });

  it("refuses a missing or wrong bearer token with 401, and changes nothing", async () => {
    const { url, hooks } = await serve({ masks: ["7908"], adminToken: TOKEN });
    const missing = await call(url, "GET", {});
    assert.equal(missing.status, 401);
    assert.equal((await call(url, "GET", { authorization: `Bearer ${TOKEN}x` })).status, 401);
    assert.equal((await call(url, "PUT", { authorization: "Bearer nope" }, { masks: ["*"] })).status, 401);
    assert.equal((await call(url, "PUT", { authorization: TOKEN }, { masks: ["*"] })).status, 401, "the Bearer scheme is required");
    assert.equal(allows(hooks, "79161234567"), true);
  });

  it("answers loopback clients only unless adminAllowRemote", async () => {
    const local = await serve({ adminToken: TOKEN }, { proxy: true });
    assert.equal((await call(local.url, "GET", { ...auth, "x-forwarded-for": "203.0.113.7" })).status, 403);
    assert.equal((await call(local.url, "GET", { ...auth, "x-forwarded-for": "127.0.0.1" })).status, 200);
    const remote = await serve({ adminToken: TOKEN, adminAllowRemote: true }, { proxy: true });
    assert.equal((await call(remote.url, "GET", { ...auth, "x-forwarded-for": "203.0.113.7" })).status, 200);
    assert.equal(isLoopback("::ffff:127.0.0.1"), true);
    assert.equal(isLoopback("::1"), true);
    assert.equal(isLoopback("10.0.0.1"), false);
    assert.equal(tokenMatches(undefined, TOKEN), false);
    assert.equal(tokenMatches(`bearer ${TOKEN}`, TOKEN), true);
  });

  it("GET shows the masks in force; PUT replaces them and the hook follows at once", async () => {
    const { url, hooks } = await serve({ masks: ["7908"], serviceMasks: { tg: ["7916"] }, adminToken: TOKEN });
    const before = await call(url, "GET", auth);
    assert.equal(before.status, 200);
    assert.deepEqual(before.json, { masks: ["7908"], serviceMasks: { tg: ["7916"] }, source: "config" });
    assert.equal(allows(hooks, "79081234567"), false);

    const put = await call(url, "PUT", auth, { masks: ["7916???4567"], serviceMasks: { vk: ["7926*"] } });
    assert.equal(put.status, 200);
    assert.equal(put.json.source, "admin");
    assert.deepEqual(put.json.masks, ["7916???4567"]);
    assert.equal(allows(hooks, "79081234567"), true);
    assert.equal(allows(hooks, "79161234567"), false);
    assert.equal(allows(hooks, "79261234567", "vk"), false);
    assert.equal(allows(hooks, "79261234567", "tg"), true);
    assert.deepEqual((await call(url, "GET", auth)).json.serviceMasks, { vk: ["7926*"] });
  });

  it("PUT refuses invalid masks with their paths and keeps the old ones", async () => {
    const { url, hooks } = await serve({ masks: ["7908"], adminToken: TOKEN });
    const bad = await call(url, "PUT", auth, { masks: ["7916", "79a"], serviceMasks: { vk: ["7?", ""] } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json.details.map((line: string) => line.split(":")[0]),
      ["body.masks[1]", "body.serviceMasks.vk[1]"],
    );
    assert.equal((await call(url, "PUT", auth, { serviceMasks: {} })).status, 400, "masks is required");
    assert.equal((await call(url, "PUT", auth, { masks: [], mask: ["7"] })).status, 400, "unknown keys are refused");
    assert.equal((await call(url, "PUT", auth, "{not json")).status, 400);
    assert.equal(allows(hooks, "79081234567"), false);
    assert.equal(allows(hooks, "79161234567"), true);
  });

  it("a PUT survives a restart; a changed config file wins at start and on reload", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "simhive-nx-admin-"));
    cleanups.push(() => removeDir(dataDir));
    const section = { masks: ["7908"], adminToken: TOKEN };

    const first = await serve(section, { dataDir });
    assert.equal((await call(first.url, "PUT", auth, { masks: ["7916"] })).status, 200);
    await first.close();

    const second = await serve(section, { dataDir });
    assert.equal(allows(second.hooks, "79161234567"), false, "the admin masks survived the restart");
    assert.equal(allows(second.hooks, "79081234567"), true);
    assert.equal((await call(second.url, "GET", auth)).json.source, "admin");
    // A SIGHUP with an unchanged mask list (only the token changed) keeps the admin masks.
    await second.host.reload({ "number-exceptions": { ...section, adminToken: `${TOKEN}-2` } });
    assert.equal(allows(second.hooks, "79161234567"), false);
    // A SIGHUP with changed masks: the config file wins, and the override is forgotten.
    await second.host.reload({ "number-exceptions": { masks: ["7926"], adminToken: TOKEN } });
    assert.equal(allows(second.hooks, "79161234567"), true);
    assert.equal(allows(second.hooks, "79261234567"), false);
    assert.equal((await call(second.url, "GET", auth)).json.source, "config");
    await second.close();

    const third = await serve({ masks: ["7926"], adminToken: TOKEN }, { dataDir });
    assert.equal(allows(third.hooks, "79161234567"), true, "the forgotten override does not come back");
    assert.equal((await call(third.url, "PUT", auth, { masks: ["7916"] })).status, 200);
    await third.close();

    const fourth = await serve({ masks: ["7999"], adminToken: TOKEN }, { dataDir });
    assert.equal(allows(fourth.hooks, "79161234567"), true, "the config file changed while stopped: it wins");
    assert.equal(allows(fourth.hooks, "79991234567"), false);
    assert.equal((await call(fourth.url, "GET", auth)).json.source, "config");
  });
});
