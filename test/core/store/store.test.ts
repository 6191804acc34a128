import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { isSimhiveError } from "../../../core/errors.ts";
import { silentLogger } from "../../../core/log.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { SCHEMA_VERSION, Store } from "../../../core/store/store.ts";
import type { SmsMessage } from "../../../core/types.ts";
import { makeTempDir } from "../../helpers/hub.ts";

const run = promisify(execFile);
const log = silentLogger();
const dirs: string[] = [];
const tempDir = async () => {
  const dir = await makeTempDir();
  dirs.push(dir);
  return dir;
};

const message = (receivedAt: number, n: number): SmsMessage => ({
  messageId: MessageRepository.messageId(receivedAt, `fp${n}`),
  fingerprint: `fp${n}`,
  iccid: "8970100000000000001",
  sender: "VK",
  text: `code ${n}`,
  receivedAt,
  parts: 1,
  complete: true,
});

describe("store", () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("writes, closes, reopens and reads back (synced batches across sublevels)", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    const messages = new MessageRepository(store);
    const first = message(1_000, 1);
    await store.batch(messages.addOps(first));
    await store.close();

    const reopened = await Store.open(dir, log);
    const again = new MessageRepository(reopened);
    assert.deepEqual(await again.get(first.messageId), { ...first, route: { state: "pending" } });
    assert.deepEqual(
      (await again.listPending()).map((m) => m.messageId),
      [first.messageId],
    );
    await reopened.batch(again.routeOps(first, { state: "no-activation", at: 2_000 }));
    assert.deepEqual(await again.listPending(), []);
    assert.equal((await reopened.sub<number>("meta").get("schemaVersion")), SCHEMA_VERSION);
    await reopened.close();
  });

  it("gives a second opener in the same process a clear error", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    await assert.rejects(Store.open(dir, log), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_STORE_LOCKED") && error.message.includes(dir));
    await store.close();
  });

  it("gives a second hub process a clear message, not a stack trace", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    const script = `import { Store } from ${JSON.stringify(new URL("../../../core/store/store.ts", import.meta.url).pathname)};
      import { silentLogger } from ${JSON.stringify(new URL("../../../core/log.ts", import.meta.url).pathname)};
      try { await Store.open(${JSON.stringify(dir)}, silentLogger()); console.log("opened"); } catch (e) { console.log(e.code + " " + e.message); }`;
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script]);
    assert.match(stdout, /^SIMHIVE_ERR_STORE_LOCKED the data directory .* is in use by another simhive process/);
    await store.close();
  });

  it("refuses a store written by a newer schema", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    await store.put(store.sub("meta"), "schemaVersion", SCHEMA_VERSION + 1);
    await store.close();
    await assert.rejects(Store.open(dir, log), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_STORE_VERSION"));
  });

  it("prunes routed messages older than the retention, keeps pending and recent ones, and reports its size", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    const messages = new MessageRepository(store);
    store.registerPruner("messages", (cutoff) => messages.prune(cutoff));
    const day = 86_400_000;
    const now = 100 * day;
    const old = message(now - 91 * day, 1);
    const oldPending = message(now - 92 * day, 2);
    const recent = message(now - 1 * day, 3);
    for (const m of [old, oldPending, recent]) await store.batch(messages.addOps(m));
    await store.batch(messages.routeOps(old, { state: "no-activation", at: 0 }));
    await store.batch(messages.routeOps(recent, { state: "no-activation", at: 0 }));
    const removed = await store.prune(90, log, now);
    assert.deepEqual(removed, { messages: 1 });
    assert.equal(await messages.get(old.messageId), undefined);
    assert.ok(await messages.get(oldPending.messageId));
    assert.ok(await messages.get(recent.messageId));
    assert.ok((await store.sizeBytes()) > 0);
    await store.close();
  });
});
