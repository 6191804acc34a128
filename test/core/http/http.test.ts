import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import type { PluginDefinition } from "../../../core/plugins.ts";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";

/** Raw HTTP so the test sees exactly what went over the wire (no automatic decompression). */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const echo: PluginDefinition = {
  name: "echo",
  configSchema: {},
  start(ctx) {
    ctx.router.post("/", (koa) => {
      koa.body = { got: koa.request.body };
    });
    ctx.router.get("/boom", () => {
      throw new Error("secret internal detail");
    });
  },
};

describe("http", () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ config: { plugins: { echo: { enabled: true } }, http: { bodyLimitBytes: 2048 } }, plugins: [echo] });
  });
  after(async () => hub.cleanup());

  it("accepts a gzip-encoded JSON body and gzips the reply when accepted", async () => {
    const body = gzipSync(JSON.stringify({ action: "GET_SERVICES", text: "Привет" }));
    const res = await send(`${hub.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", "content-encoding": "gzip", "accept-encoding": "gzip" },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.deepEqual(JSON.parse(gunzipSync(res.body).toString("utf8")), { got: { action: "GET_SERVICES", text: "Привет" } });
  });

  it("answers plain JSON when gzip is not accepted", async () => {
    const res = await send(`${hub.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    assert.equal(res.headers["content-encoding"], undefined);
    assert.deepEqual(JSON.parse(res.body.toString()), { got: { a: 1 } });
  });

  it("refuses a body over the limit with 413, also when it only grows past it after gunzip", async () => {
    const big = JSON.stringify({ pad: "x".repeat(10_000) });
    const plain = await send(`${hub.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
    assert.equal(plain.status, 413);
    assert.equal(JSON.parse(plain.body.toString()).error, "BODY_TOO_LARGE");
    const zipped = gzipSync(big);
    assert.ok(zipped.length < 2048, "the compressed body itself is under the limit");
    const bomb = await send(`${hub.url}/echo`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: zipped });
    assert.equal(bomb.status, 413);
  });

  it("answers malformed JSON with 400 and a JSON error body", async () => {
    const res = await send(`${hub.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"action": ' });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body.toString()), { status: "ERROR", error: "BAD_REQUEST", message: "malformed request body" });
  });

  it("answers an unknown route with a JSON 404", async () => {
    const res = await send(`${hub.url}/nope`);
    assert.equal(res.status, 404);
    assert.equal(res.headers["content-type"], "application/json; charset=utf-8");
    assert.equal(JSON.parse(res.body.toString()).error, "NOT_FOUND");
  });

  it("never sends a stack trace or an internal message to the client", async () => {
    const res = await send(`${hub.url}/echo/boom`);
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body.toString()), { status: "ERROR", error: "INTERNAL" });
  });

  it("gives every response a request id, and keeps a sane incoming one", async () => {
    const generated = await send(`${hub.url}/healthz`);
    assert.match(String(generated.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    const kept = await send(`${hub.url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    assert.equal(kept.headers["x-request-id"], "abc-123");
    const replaced = await send(`${hub.url}/healthz`, { headers: { "x-request-id": "bad id\twith tab" } });
    assert.notEqual(replaced.headers["x-request-id"], "bad id\twith tab");
  });

  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    assert.equal((await send(`${hub.url}/healthz`)).status, 200);
    const ready = await send(`${hub.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.body.toString()).store, "open");
    const metrics = await send(`${hub.url}/metrics`);
    assert.match(String(metrics.headers["content-type"]), /^text\/plain/);
    const text = metrics.body.toString();
    assert.match(text, /^simhive_process_resident_memory_bytes \d+/m);
    assert.match(text, /^simhive_store_size_bytes \d+/m);
    assert.match(text, /^simhive_http_requests_total\{method="GET",status="200"\} \d+/m);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("readiness", () => {
  it("answers /readyz 503 while plugins start and 200 once they run", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowStart: PluginDefinition = { name: "slow-start", configSchema: {}, startTimeoutMs: 30_000, start: () => gate };
    const port = await freePort();
    const starting = startTestHub({ config: { plugins: { "slow-start": { enabled: true } }, http: { port } }, plugins: [slowStart] });
    let early: { status: number; body: Buffer } | undefined;
    for (let i = 0; i < 400 && !early; i++) {
      early = await send(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (!early) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(early, "the server listens while plugins start");
    assert.equal(early.status, 503);
    assert.equal(JSON.parse(early.body.toString()).starting, true);
    release();
    const hub = await starting;
    assert.equal((await send(`${hub.url}/readyz`)).status, 200);
    await hub.cleanup();
  });
});

describe("request deadline", () => {
  it("cuts off a request still running after http.requestTimeoutSeconds with a JSON 503", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const hangs: PluginDefinition = {
      name: "hangs",
      configSchema: {},
      start(ctx) {
        ctx.router.get("/", async (koa) => {
          await held;
          koa.body = { late: true };
        });
      },
    };
    const hub = await startTestHub({ config: { plugins: { hangs: { enabled: true } }, http: { requestTimeoutSeconds: 0.2 } }, plugins: [hangs] });
    try {
      const res = await send(`${hub.url}/hangs`);
      assert.equal(res.status, 503);
      assert.deepEqual(JSON.parse(res.body.toString()), { status: "ERROR", error: "TIMEOUT" });
    } finally {
      release();
      await hub.cleanup();
    }
  });
});
