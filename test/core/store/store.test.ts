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
import { spyOnBatches } from "../../helpers/store.ts";

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

  it("writes, closes, reopens and reads back (batches across sublevels)", async () => {
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

  // A fault real parts cannot show: without sync the data survives a killed process all the same (it is in
  // the page cache); only a power cut loses it. So this looks at the options that reach LevelDB's binding.
  it("syncs every batch to disk: sync: true reaches LevelDB for batch, put and the retention deletes", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    const seen = spyOnBatches(store);
    const messages = new MessageRepository(store);
    const routed = message(1_000, 1);
    await store.batch([...messages.addOps(routed), ...messages.addOps(message(2_000, 2))]);
    await store.put(store.sub("meta"), "probe", 1);
    await store.batch(messages.routeOps(routed, { state: "no-activation", at: 0 }));
    assert.equal(await messages.prune(10_000), 1);
    assert.deepEqual(
      seen.map((batch) => ({ ops: batch.keys.length, sync: batch.sync })),
      [
        { ops: 4, sync: true },
        { ops: 1, sync: true },
        { ops: 2, sync: true },
        { ops: 1, sync: true },
      ],
    );
    await store.close();
  });

  it("deletes, in batches, the records of a range that a predicate selects", async () => {
    const dir = await tempDir();
    const store = await Store.open(dir, log);
    const counters = store.sub<number>("counters");
    const keys = Array.from({ length: 1_203 }, (_, i) => `k${String(i).padStart(5, "0")}`);
    await store.batch(keys.map((key, i) => ({ type: "put", sublevel: counters, key, value: i })));
    const seen = spyOnBatches(store);
    const sizes = () => seen.map((batch) => batch.keys.length);
    // Odd values below k01100 go; even ones, and everything from k01100 on, stay.
    const removed = await store.deleteWhere(counters, { lt: "k01100" }, (value) => value % 2 === 1);
    assert.equal(removed, 550);
    assert.deepEqual(sizes(), [500, 50]);
    const left = [];
    for await (const [key, value] of counters.iterator()) left.push([key, value]);
    assert.equal(left.length, 1_203 - 550);
    assert.ok(left.every(([key, value]) => (value as number) % 2 === 0 || (key as string) >= "k01100"));
    assert.equal(await store.deleteWhere(counters, {}, () => false), 0);
    assert.deepEqual(sizes(), [500, 50], "nothing selected: no batch");
    await store.close();
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
