/**
 * Request bodies as Onlinesim's server may really send them, through the
 * hub's own HTTP app (body parser, gzip): JSON whatever the Content-Type says
 * (or when it says nothing), and a malformed body answered only after the key
 * check, with the key from the header or the query.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { makeNumbers } from "../../core/activations/fixtures.ts";
import { API_KEY, sendRaw, startPluginRig, type PluginRig } from "./rig.ts";

const GOOD = JSON.stringify({ action: "GET_SERVICES", key: API_KEY });
const BAD_KEY = '{"status":"ERROR","error":"BAD_KEY"}';

describe("onlinesim API: request bodies", () => {
  let rig: PluginRig;
  before(async () => {
    rig = await startPluginRig(makeNumbers(2), { services: ["vk"] });
  });
  after(async () => rig.closeAll());

  const send = (headers: Record<string, string>, body: string | Buffer, path = "/onlinesim") => sendRaw(rig.url, { headers, body, path });
  const status = (answer: { body: string }) => (JSON.parse(answer.body) as { status?: string }).status;

  for (const [label, headers] of [
    ["no Content-Type", {}],
    ["application/octet-stream", { "content-type": "application/octet-stream" }],
    ["application/x-www-form-urlencoded (curl's default)", { "content-type": "application/x-www-form-urlencoded" }],
    ["text/plain", { "content-type": "text/plain" }],
    ["text/html; charset=utf-8", { "content-type": "text/html; charset=utf-8" }],
  ] as [string, Record<string, string>][]) {
    it(`reads a JSON body sent with ${label}`, async () => {
      const answer = await send(headers, GOOD);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(status(answer), "SUCCESS");
    });
  }

  it("reads a gzip-encoded JSON body without Content-Type", async () => {
    const answer = await send({ "content-encoding": "gzip" }, gzipSync(GOOD));
    assert.equal(status(answer), "SUCCESS", answer.body);
  });

  it("still reads a form-encoded body as a form", async () => {
    const answer = await send({ "content-type": "application/x-www-form-urlencoded" }, `action=GET_SERVICES&key=${API_KEY}`);
    assert.equal(status(answer), "SUCCESS", answer.body);
  });

  for (const [label, headers] of [
    ["application/json", { "content-type": "application/json" }],
    ["no Content-Type", {}],
  ] as [string, Record<string, string>][]) {
    it(`a malformed body (${label}) is answered after the key check: BAD_KEY without a valid key, BAD_REQUEST with one`, async () => {
      for (const body of ["{bad", '{"action":"GET_SERVICES","key":', "[1,2]", '"GET_SERVICES"']) {
        const noKey = await send(headers, body);
        assert.deepEqual([noKey.status, noKey.body], [401, BAD_KEY], `${body} without a key`);
        const wrongKey = await send({ ...headers, authorization: "Bearer wrong" }, body);
        assert.deepEqual([wrongKey.status, wrongKey.body], [401, BAD_KEY], `${body} with a wrong key`);
        for (const withKey of [{ ...headers, authorization: `Bearer ${API_KEY}` }, headers]) {
          const path = withKey === headers ? `/onlinesim?apikey=${API_KEY}` : "/onlinesim";
          const answer = await send(withKey, body, path);
          assert.equal(answer.status, 400, `${body}: ${answer.body}`);
          assert.deepEqual(JSON.parse(answer.body), { status: "ERROR", error: "BAD_REQUEST", message: "malformed request body" });
        }
      }
    });
  }

  it("a body that is not gzip though it says so is malformed, answered after the key check", async () => {
    const answer = await send({ "content-encoding": "gzip", authorization: "Bearer wrong" }, Buffer.from("not gzip"));
    assert.deepEqual([answer.status, answer.body], [401, BAD_KEY]);
    const keyed = await send({ "content-encoding": "gzip", authorization: `Bearer ${API_KEY}` }, Buffer.from("not gzip"));
    assert.deepEqual([keyed.status, JSON.parse(keyed.body)], [400, { status: "ERROR", error: "BAD_REQUEST", message: "malformed request body" }]);
  });

  it("a body over the limit is refused with 413, gzip-encoded or not", async () => {
    const big = JSON.stringify({ action: "GET_SERVICES", key: API_KEY, pad: "x".repeat(1_100_000) });
    assert.equal((await send({}, big)).status, 413);
    assert.equal((await send({ "content-encoding": "gzip" }, gzipSync(big))).status, 413);
  });
});
