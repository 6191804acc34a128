import assert from "node:assert/strict";
import { test } from "node:test";
import { brokerForSuite, clearRetained, fakeModems, modem, startHub, uniqueName, Watcher, type TestHub } from "./helpers.ts";

const broker = brokerForSuite();

const IMEI = "356938035643809";

async function withCommandsHub(run: (hub: TestHub, watcher: Watcher, root: string) => Promise<void>): Promise<void> {
  const base = uniqueName("simhive-test");
  const hub = await startHub({ config: { url: broker.url, baseTopic: base, commands: true }, modems: fakeModems([modem(IMEI)]) });
  const root = `${base}/${hub.hubId}`;
  const watcher = await Watcher.open(broker.url, [`${root}/#`]);
  try {
    await watcher.waitOn(`${root}/status`, (p) => p === "online");
    await run(hub, watcher, root);
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`]);
  }
}

async function request(watcher: Watcher, root: string, imei: string, body: unknown): Promise<Record<string, unknown>> {
  const transaction = typeof body === "object" && body && "transaction" in body ? (body as { transaction: unknown }).transaction : undefined;
  const answer = watcher.waitOn(`${root}/modems/${imei}/set/response`, (p) => JSON.parse(p).transaction === transaction, `answer to ${JSON.stringify(body)}`);
  await watcher.client.publishAsync(`${root}/modems/${imei}/set`, typeof body === "string" ? body : JSON.stringify(body), { qos: 1 });
  const message = await answer;
  assert.equal(message.retain, false);
  return JSON.parse(message.payload);
}

test("commands run on the modem and are answered with the request's transaction", async () => {
  await withCommandsHub(async (hub, watcher, root) => {
    assert.deepEqual(await request(watcher, root, IMEI, { action: "reset", transaction: "tx-1" }), {
      status: "ok",
      data: { imei: IMEI, action: "reset" },
      transaction: "tx-1",
    });
    assert.deepEqual(await request(watcher, root, IMEI, { action: "disable", transaction: 2 }), {
      status: "ok",
      data: { imei: IMEI, action: "disable" },
      transaction: 2,
    });
    assert.deepEqual(await request(watcher, root, IMEI, { action: "enable", transaction: "tx-3" }), {
      status: "ok",
      data: { imei: IMEI, action: "enable" },
      transaction: "tx-3",
    });
    assert.deepEqual(hub.modems.calls, [
      { imei: IMEI, action: "reset" },
      { imei: IMEI, action: "disable" },
      { imei: IMEI, action: "enable" },
    ]);
  });
});

test("bad requests, unknown modems and failing commands get an error answer with the transaction", async () => {
  await withCommandsHub(async (hub, watcher, root) => {
    const unknownAction = await request(watcher, root, IMEI, { action: "format", transaction: "a" });
    assert.equal(unknownAction.status, "error");
    assert.match(String(unknownAction.error), /reset, disable, enable/);

    const unknownModem = await request(watcher, root, "356938035643999", { action: "reset", transaction: "b" });
    assert.equal(unknownModem.status, "error");
    assert.match(String(unknownModem.error), /356938035643999/);

    hub.modems.failWith = new Error("modem did not answer AT");
    const failing = await request(watcher, root, IMEI, { action: "reset", transaction: "c" });
    assert.deepEqual(failing, { status: "error", data: { imei: IMEI, action: "reset" }, error: "modem did not answer AT", transaction: "c" });

    const notJson = await request(watcher, root, IMEI, "{oops");
    assert.equal(notJson.status, "error");
    assert.equal("transaction" in notJson, false);

    assert.deepEqual(hub.modems.calls, [{ imei: IMEI, action: "reset" }], "only the valid request on a known modem reached it");
  });
});
