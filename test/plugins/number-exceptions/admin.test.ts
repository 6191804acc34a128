/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are read loosely in tests */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
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

/** A non-loopback IPv4 address of this machine, to connect from "another host". */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === "IPv4" && !entry.internal) return entry.address;
  }
  return undefined;
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

  async function serve(section: Record<string, unknown>, options: { dataDir?: string; proxy?: boolean; host?: string } = {}): Promise<Running & { url: string; close(): Promise<void> }> {
    const plugin = await startPlugin(numberExceptions, section, options.dataDir ? { dataDir: options.dataDir } : {});
    const server = await serveRouters(plugin.host, { proxy: options.proxy ?? false, ...(options.host ? { host: options.host } : {}) });
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

  it("answers loopback sockets only, never a proxied request, unless adminAllowRemote", async (t) => {
    // http.trustProxy on (Koa's app.proxy): ctx.ip would take X-Forwarded-For, so the check must not use it.
    const local = await serve({ adminToken: TOKEN }, { proxy: true, host: "0.0.0.0" });
    const loopbackUrl = local.url;
    assert.equal((await call(loopbackUrl, "GET", auth)).status, 200, "a loopback socket without proxy headers");
    const proxied: Record<string, string>[] = [{ "x-forwarded-for": "127.0.0.1" }, { "x-forwarded-for": "203.0.113.7" }, { forwarded: "for=127.0.0.1" }, { "x-real-ip": "127.0.0.1" }];
    for (const header of proxied) {
      assert.equal((await call(loopbackUrl, "GET", { ...auth, ...header })).status, 403, `a request through a proxy (${JSON.stringify(header)}) is not local`);
    }
    const remote = await serve({ adminToken: TOKEN, adminAllowRemote: true }, { proxy: true, host: "0.0.0.0" });
    assert.equal((await call(remote.url, "GET", { ...auth, "x-forwarded-for": "203.0.113.7" })).status, 200, "adminAllowRemote: proxied requests are served");
    assert.equal((await call(remote.url, "GET", { "x-forwarded-for": "127.0.0.1" })).status, 401, "adminAllowRemote: the token is still required");

    assert.equal(isLoopback("::ffff:127.0.0.1"), true);
    assert.equal(isLoopback("::1"), true);
    assert.equal(isLoopback("10.0.0.1"), false);
    assert.equal(isLoopback(undefined), false);
    assert.equal(tokenMatches(undefined, TOKEN), false);
    assert.equal(tokenMatches(`bearer ${TOKEN}`, TOKEN), true);

    const external = externalAddress();
    if (!external) {
      t.skip("no non-loopback IPv4 address on this machine");
      return;
    }
    const fromOutside = (url: string) => url.replace("127.0.0.1", external);
    assert.equal((await call(fromOutside(loopbackUrl), "GET", auth)).status, 403, `a socket from ${external}`);
    assert.equal((await call(fromOutside(loopbackUrl), "GET", { ...auth, "x-forwarded-for": "127.0.0.1" })).status, 403, "X-Forwarded-For: 127.0.0.1 does not make it local");
    assert.equal((await call(fromOutside(remote.url), "GET", auth)).status, 200, "adminAllowRemote serves other hosts");
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
