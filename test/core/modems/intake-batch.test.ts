import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EventBus } from "../../../core/bus.ts";
import { silentLogger } from "../../../core/log.ts";
import { AtCommandError, type AtPort } from "../../../core/modems/at.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { Intake } from "../../../core/modems/intake.ts";
import { PartStore } from "../../../core/modems/parts.ts";
import { encodeDeliver } from "../../../core/modems/pdu/index.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { Store, type BatchOp } from "../../../core/store/store.ts";
import type { SmsMessage } from "../../../core/types.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

/** Records the keys of every synced batch the store writes (observation only: the real batch runs). */
function recordBatches(store: Store, events: string[] = []): { keys: string[][]; events: string[] } {
  const keys: string[][] = [];
  const batch = store.batch.bind(store);
  store.batch = async (ops: readonly BatchOp[]) => {
    await batch(ops);
    if (ops.length > 0) {
      keys.push(ops.map((op) => `${op.type} ${op.key}`));
      events.push("batch");
    }
  };
  return { keys, events };
}

async function groupKeys(store: Store): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.sub("parts").keys({ gte: "group!", lt: "group!\xff" })) keys.push(key);
  return keys;
}

const LONG = "L".repeat(153) + "M".repeat(40);

/** A command line without the sync marker a verified read carries (`AT+CMGR=1;+CNMI?` → `AT+CMGR=1`). */
const unmarked = (line: string): string => line.replace(/;\+(?:CMGF|CNMI|CMEE)\?$/, "");

/**
 * Keeps the intake busy with a sweep whose AT+CMGL=4 answer is held back for
 * 200 ms, and resolves once the modem has executed that listing: whatever is
 * injected then is announced by +CMTI while the modem is busy.
 */
async function busyWithSweep(modem: EmulatedModem, sweep: () => Promise<unknown>): Promise<Promise<unknown>> {
  modem.slow(200);
  const listed = new Promise<void>((resolve) => {
    const onCommand = (line: string) => {
      if (unmarked(line) !== "AT+CMGL=4") return;
      modem.off("command", onCommand);
      resolve();
    };
    modem.on("command", onCommand);
  });
  const swept = sweep();
  await listed;
  modem.slow(0);
  return swept;
}

describe("batched intake", () => {
  it("+CMTI received while the modem is busy: one AT+CMGL=4, every part in one synced batch, then the slots deleted on one chained line", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const { keys, events } = recordBatches(h.store);
    const commands: string[] = [];
    modem.on("command", (line: string) => commands.push(unmarked(line)));
    modem.on("deleted", (index: number) => events.push(`deleted ${index}`));

    // a two-part message and a single one arrive while a sweep is in flight: three +CMTI wait for the modem
    const swept = await busyWithSweep(modem, () => h.layer.sweepAll());
    const slots = [...modem.inject({ sender: "79001230001", text: LONG }), ...modem.inject({ sender: "79001230002", text: "single" })];
    assert.deepEqual(slots, [1, 2, 3]);
    await swept;
    await waitFor(() => h.received.length === 2 && modem.storage().length === 0, "both messages taken and the slots deleted");

    assert.deepEqual(
      commands.filter((line) => /CMG[RLD]/.test(line)),
      ["AT+CMGL=4", "AT+CMGL=4", "AT+CMGD=1;+CMGD=2;+CMGD=3"],
      "the sweep's (empty) listing, then one listing instead of three AT+CMGR, one chained deletion",
    );
    const withParts = keys.filter((batch) => batch.some((key) => key.startsWith("put pdu!")));
    assert.equal(withParts.length, 1, "one batch for the three parts");
    assert.equal(withParts[0]?.filter((key) => key.startsWith("put pdu!")).length, 3);
    assert.equal(withParts[0]?.filter((key) => key.startsWith("put ") && !key.startsWith("put pdu!")).length, 4, "both messages and their pending entries in the same batch");
    assert.ok(!keys.flat().some((key) => key.includes("group!")), "parts read together are joined without waiting on disk");
    assert.deepEqual(events, ["batch", "deleted 1", "deleted 2", "deleted 3"], "deleted only once the batch is on disk");

    const texts = h.received.map((m) => m.text).sort();
    assert.deepEqual(texts, [LONG, "single"].sort());
    assert.equal(h.received.find((m) => m.text === LONG)?.parts, 2);
  });

  it("a +CMTI that arrives while a lone slot is read is read right after it: both parts of a message in one batch", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const { keys } = recordBatches(h.store);
    const commands: string[] = [];
    modem.on("command", (line: string) => commands.push(unmarked(line)));
    // replies held back 100 ms: the second part's +CMTI arrives while AT+CMGR=1 is in flight
    modem.slow(100);
    assert.deepEqual(modem.inject({ sender: "79001230004", text: LONG }), [1, 2]);
    await waitFor(() => h.received.length === 1 && modem.storage().length === 0, "the message taken and both slots deleted");
    modem.slow(0);
    assert.deepEqual(
      commands.filter((line) => /CMG[RLD]/.test(line)),
      ["AT+CMGR=1", "AT+CMGR=2", "AT+CMGD=1;+CMGD=2"],
    );
    const withParts = keys.filter((batch) => batch.some((key) => key.startsWith("put pdu!")));
    assert.equal(withParts.length, 1, "both parts and the message in one batch");
    assert.ok(!keys.flat().some((key) => key.includes("group!")), "the first part never waited on disk");
    assert.equal(h.received[0]?.text, LONG);
  });

  it("a full SIM found at start: one listing larger than the port's read buffer, one batch, every slot deleted", async (t) => {
    const h = await startHarness({ emulator: { count: 1, storageSize: 30 } }, { start: false });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    // 15 two-part UCS2 messages fill the 30 slots: the AT+CMGL=4 reply is about 10 kB
    const texts = Array.from({ length: 15 }, (_, i) => `Сообщение ${i} `.padEnd(120, "ж"));
    for (const text of texts) modem.inject({ sender: "79001230003", text, lostCmti: true });
    assert.equal(modem.storage().length, 30);
    assert.ok(modem.storage().reduce((sum, slot) => sum + slot.pdu.length + 16, 0) > 8192);
    const { keys } = recordBatches(h.store);
    await h.layer.start();
    await waitFor(() => h.received.length === 15 && modem.storage().length === 0, "all 15 messages taken and the SIM emptied");
    assert.deepEqual(h.received.map((m) => m.text).sort(), [...texts].sort());
    assert.equal(keys.filter((batch) => batch.some((key) => key.startsWith("put pdu!"))).length, 1, "the 30 parts in one batch");
    assert.equal(modem.counters.byCommand["+CMGD"], 30);
  });

  it("a crash after the batch and before the chained AT+CMGD loses nothing and duplicates nothing", async (t) => {
    const path = "/emu/intake-batch-crash/usb-0:1.1:1.2";
    const modem = new EmulatedModem({ imei: "860000000000993", imsi: "250010000000993", iccid: "89701990000000009933", msisdn: "79000000993", cnum: true });
    emulatorRegistry.register(path, modem);
    const layerOptions = { layer: { portClass: EmulatedSerialPort } };
    const first = await startHarness({ ports: ["/emu/intake-batch-crash/*"], commandTimeoutSeconds: 0.5 }, layerOptions);
    t.after(() => first.dispose());
    const commands: string[] = [];
    modem.on("command", (line: string) => commands.push(unmarked(line)));
    // the "crash": once the batch is on disk the modem stops answering, so no AT+CMGD runs
    first.bus.on("sms.received", "crash", () => modem.hang());
    const swept = await busyWithSweep(modem, () => first.layer.sweepAll());
    modem.inject({ sender: "79006660001", text: LONG });
    modem.inject({ sender: "79006660002", text: "persisted, not deleted" });
    await swept;
    await waitFor(() => first.received.length === 2, "both messages persisted");
    assert.ok(commands.includes("AT+CMGL=4") && !commands.some((line) => line.startsWith("AT+CMGR")), "read by the batched path");
    assert.equal(modem.storage().length, 3, "all three parts still on the SIM");
    await first.stop();
    modem.unhang();

    const second = await startHarness({ ports: ["/emu/intake-batch-crash/*"] }, { ...layerOptions, dir: first.dir });
    t.after(() => second.stop());
    await waitFor(() => modem.storage().length === 0, "the slots deleted by the start sweep");
    assert.equal(second.received.length, 0, "recognised as duplicates, not announced again");
    const stored = await new MessageRepository(second.store).listRecent(100);
    assert.deepEqual(stored.map((m) => m.text).sort(), [LONG, "persisted, not deleted"].sort());
    assert.deepEqual(await groupKeys(second.store), [], "no part left waiting to be joined again");
  });
});

describe("PartStore.acceptMany", () => {
  it("joins parts of one batch, recognises a repeat within the batch, quarantines what does not decode, in one write", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "simhive-parts-"));
    const store = await Store.open(dir, silentLogger());
    t.after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const { keys } = recordBatches(store);
    const parts = new PartStore(store, silentLogger());
    const [one, two] = encodeDeliver({ sender: "79001112233", text: LONG, ref: 77, timestamp: new Date(0) });
    assert.ok(one && two);
    const malformed = "07919700000000F0040B91970011213200";
    const outcomes = await parts.acceptMany("8970199000000000001", [
      { slot: 4, raw: two },
      { slot: 5, raw: one },
      { slot: 6, raw: two.toLowerCase() },
      { slot: 7, raw: malformed },
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ["part", "message", "duplicate", "quarantined"],
    );
    const message = (outcomes[1] as { message: SmsMessage }).message;
    assert.equal(message.text, LONG);
    assert.equal(message.parts, 2);
    assert.equal(keys.length, 1, "one synced write");
    assert.deepEqual(await groupKeys(store), []);
    // read again (a crash before AT+CMGD): everything is a duplicate and nothing is written
    const again = await parts.acceptMany("8970199000000000001", [{ raw: one }, { raw: two }, { raw: malformed }]);
    assert.deepEqual(
      again.map((o) => o.kind),
      ["duplicate", "duplicate", "duplicate"],
    );
    assert.equal(keys.length, 1);
  });
});

describe("chained AT+CMGD refused", () => {
  it("deletes nothing again unread: the sweep re-reads, then one slot per command", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "simhive-intake-"));
    const log = silentLogger();
    const store = await Store.open(dir, log);
    t.after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const [a, b] = encodeDeliver({ sender: "79001112233", text: LONG, ref: 78 });
    assert.ok(a && b);
    // a modem that refuses command chains (the emulator accepts them, so this fault needs a stand-in port)
    const sim = new Map<number, string>([
      [1, a],
      [2, b],
    ]);
    const sent: string[] = [];
    const port = {
      isOpen: true,
      async command(line: string): Promise<string[]> {
        sent.push(line);
        if (line.includes(";")) throw new AtCommandError(line, "ERROR");
        if (line === "AT+CMGL=4") return [...sim].flatMap(([index, pdu]) => [`+CMGL: ${index},1,,${pdu.length / 2 - 8}`, pdu]);
        const del = /^AT\+CMGD=(\d+)$/.exec(line);
        if (del) sim.delete(Number(del[1]));
        if (line === "AT+CPMS?") return [`+CPMS: "SM",${sim.size},30,"SM",${sim.size},30,"SM",${sim.size},30`];
        return [];
      },
    } as unknown as AtPort;
    const received: SmsMessage[] = [];
    const bus = new EventBus(log);
    bus.on("sms.received", "test", ({ message }) => {
      received.push(message);
    });
    const intake = new Intake(
      { at: () => port, identity: () => ({ iccid: "8970199000000000002" }), storage: () => undefined, received: () => undefined },
      { parts: new PartStore(store, log), bus, log, timeoutMs: 1000 },
    );
    await intake.sweep();
    await waitFor(() => sim.size === 0, "the slots deleted");
    assert.deepEqual(sent, ["AT+CMGL=4", "AT+CMGD=1;+CMGD=2", "AT+CPMS?", "AT+CMGL=4", "AT+CMGD=1", "AT+CMGD=2", "AT+CPMS?"]);
    assert.equal(received.length, 1, "announced once; the re-read found duplicates");
    assert.equal(received[0]?.text, LONG);
    await intake.sweep();
    assert.equal(sent.filter((line) => line.includes(";")).length, 1, "no chain tried again");
  });
});
