import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { startHarness, waitFor, type Harness } from "./harness.ts";

after(() => emulatorRegistry.clear());

async function storedMessages(harness: Harness) {
  return new MessageRepository(harness.store).listRecent(1000);
}

describe("durable intake", () => {
  it("+CMTI path: the SMS is persisted, announced, then deleted from the SIM", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const order: string[] = [];
    modem.on("deleted", () => order.push("deleted"));
    h.bus.on("sms.received", "order", () => {
      order.push("received");
    });
    modem.inject({ sender: "79001234567", text: "Your code 4711" });
    const [message] = await waitFor(() => h.received.length === 1 && h.received, "the SMS");
    assert.equal(message?.text, "Your code 4711");
    assert.equal(message?.sender, "79001234567");
    assert.equal(message?.iccid, h.layer.list()[0]?.iccid);
    assert.equal(message?.msisdn, h.layer.list()[0]?.msisdn);
    assert.equal(message?.complete, true);
    await waitFor(() => modem.storage().length === 0, "slot deleted");
    assert.deepEqual(order, ["received", "deleted"]);
    const stored = await storedMessages(h);
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0]?.route, { state: "pending" });
    assert.equal(await h.store.sub("messages-pending").get(message?.messageId ?? ""), message?.receivedAt);
  });

  it("sweep path: an SMS stored while the hub was down is read at start", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } }, { start: false });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    modem?.inject({ sender: "79001234567", text: "stored before start" });
    assert.equal(modem?.storage().length, 1);
    await h.layer.start();
    await waitFor(() => h.received.length === 1, "the stored SMS");
    assert.equal(h.received[0]?.text, "stored before start");
    await waitFor(() => modem?.storage().length === 0, "the slot deleted after persisting");
  });

  it("sweep path: a lost +CMTI is found by the periodic sweep", async (t) => {
    const h = await startHarness({ emulator: { count: 1 }, sweepSeconds: 1 });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    modem?.inject({ sender: "79001234567", text: "no indication", lostCmti: true });
    await waitFor(() => h.received.length === 1, "the swept SMS");
    assert.equal(h.received[0]?.text, "no indication");
  });

  it("joins multipart out of order, and keeps two senders using the same reference apart", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const long1 = "A".repeat(150) + "B".repeat(150) + "C".repeat(100);
    modem.inject({ sender: "79001111111", text: long1, ref: 41, order: [3, 1, 2] });
    await waitFor(() => h.received.length === 1, "the three-part message");
    assert.equal(h.received[0]?.text, long1);
    assert.equal(h.received[0]?.parts, 3);
    // two senders, the same reference AND part count, both waiting at once; the second
    // parts arrive in the other order, so joining by reference and arrival alone would cross them
    const a = "a".repeat(153) + "A".repeat(20);
    const b = "b".repeat(153) + "B".repeat(20);
    const deliver = async (sender: string, text: string, part: number) => {
      modem.inject({ sender, text, ref: 42, drop: [3 - part] });
      await waitFor(() => modem.storage().length === 0, `part ${part} of ${sender} taken`);
    };
    await deliver("79002222222", a, 1);
    await deliver("79003333333", b, 1);
    await deliver("79003333333", b, 2);
    await deliver("79002222222", a, 2);
    await waitFor(() => h.received.length === 3, "both two-part messages");
    const bySender = new Map(h.received.map((m) => [m.sender, m]));
    assert.equal(bySender.get("79002222222")?.text, a);
    assert.equal(bySender.get("79003333333")?.text, b);
    assert.equal(bySender.get("79003333333")?.complete, true);
    // parts waiting are in the store, not in memory: nothing is left once joined
    const left = [];
    for await (const key of h.store.sub("parts").keys({ gte: "group!", lt: "group!\xff" })) left.push(key);
    assert.deepEqual(left, []);
  });

  it("a sender reusing reference and part count while an earlier message is incomplete loses no part", async (t) => {
    const h = await startHarness({ emulator: { count: 1 }, multipartTimeoutSeconds: 3600 });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const one = "1".repeat(153) + "x".repeat(47) + "one";
    const two = "2".repeat(153) + "y".repeat(47) + "two";
    modem.inject({ sender: "VK", text: one, ref: 5, drop: [2] });
    await waitFor(() => modem.storage().length === 0, "part 1 of one");
    modem.inject({ sender: "VK", text: two, ref: 5, drop: [2] });
    await waitFor(() => modem.storage().length === 0, "part 1 of two");
    modem.inject({ sender: "VK", text: one, ref: 5, drop: [1] });
    await waitFor(() => h.received.length === 1, "message one");
    modem.inject({ sender: "VK", text: two, ref: 5, drop: [1] });
    await waitFor(() => h.received.length === 2, "message two");
    assert.deepEqual(
      h.received.map((m) => [m.text, m.complete]),
      [
        [one, true],
        [two, true],
      ],
    );
  });

  it("multipart parts wait in the store across a restart", async (t) => {
    const path = "/emu/intake-restart/usb-0:1.1:1.2";
    const modem = new EmulatedModem({ imei: "860000000000991", imsi: "250010000000991", iccid: "89701990000000009917", msisdn: "79000000991", cnum: true });
    emulatorRegistry.register(path, modem);
    const layerOptions = { layer: { portClass: EmulatedSerialPort } };
    const first = await startHarness({ ports: ["/emu/intake-restart/*"] }, layerOptions);
    t.after(() => first.dispose());
    modem.inject({ sender: "79003333333", text: "p".repeat(153) + "q".repeat(50), ref: 7, drop: [2] });
    await waitFor(() => modem.storage().length === 0, "part 1 taken");
    await first.stop();
    // part 2 arrives while the hub is down
    modem.injectPdu(partTwo(modem));
    const second = await startHarness({ ports: ["/emu/intake-restart/*"] }, { ...layerOptions, dir: first.dir });
    t.after(() => second.stop());
    await waitFor(() => second.received.length === 1, "joined message");
    assert.equal(second.received[0]?.text, "p".repeat(153) + "q".repeat(50));
    assert.equal(second.received[0]?.complete, true);
  });

  it("releases a multipart message whose parts do not all arrive, marked incomplete", async (t) => {
    const h = await startHarness({ emulator: { count: 1 }, multipartTimeoutSeconds: 1, sweepSeconds: 1 });
    t.after(() => h.dispose());
    h.modems[0]?.inject({ sender: "79004444444", text: "m".repeat(153) + "n".repeat(153) + "o".repeat(10), ref: 9, drop: [2] });
    await waitFor(() => h.received.length === 1, "the incomplete message", 30_000);
    const [message] = h.received;
    assert.equal(message?.complete, false);
    assert.equal(message?.parts, 2);
    assert.equal(message?.text, "m".repeat(153) + "o".repeat(10));
  });

  it("decodes UCS2 Cyrillic with emoji and GSM 7-bit extension characters", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const cyrillic = "Код подтверждения: 5821 🙂👍 не сообщайте никому";
    const extension = "Price €10 [a] {b} |c| ^d ~e \\f";
    h.modems[0]?.inject({ sender: "Sber", text: cyrillic });
    h.modems[0]?.inject({ sender: "79005555555", text: extension, encoding: "gsm7" });
    await waitFor(() => h.received.length === 2, "both messages");
    const texts = h.received.map((m) => m.text).sort();
    assert.deepEqual(texts, [cyrillic, extension].sort());
    assert.ok(h.received.some((m) => m.sender === "Sber"));
  });

  it("a crash between persist and delete loses nothing and duplicates nothing", async (t) => {
    const path = "/emu/intake-crash/usb-0:1.1:1.2";
    const modem = new EmulatedModem({ imei: "860000000000992", imsi: "250010000000992", iccid: "89701990000000009925", msisdn: "79000000992", cnum: true });
    emulatorRegistry.register(path, modem);
    const layerOptions = { layer: { portClass: EmulatedSerialPort } };
    const first = await startHarness({ ports: ["/emu/intake-crash/*"], commandTimeoutSeconds: 0.5 }, layerOptions);
    t.after(() => first.dispose());
    // the "crash": once the batch is on disk the modem stops answering, so AT+CMGD never happens
    first.bus.on("sms.received", "crash", () => modem.hang());
    modem.inject({ sender: "79006666666", text: "persisted, not deleted" });
    await waitFor(() => first.received.length === 1, "persisted message");
    assert.equal(modem.storage().length, 1, "still on the SIM");
    await first.stop();
    modem.unhang();

    const second = await startHarness({ ports: ["/emu/intake-crash/*"] }, { ...layerOptions, dir: first.dir });
    t.after(() => second.stop());
    await waitFor(() => modem.storage().length === 0, "the slot deleted by the start sweep");
    assert.equal(second.received.length, 0, "recognised as a duplicate, not announced again");
    const stored = await storedMessages(second);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.text, "persisted, not deleted");
  });

  it("storage full: ^SMMEMFULL triggers a sweep that frees the SIM and the waiting SMS arrives", async (t) => {
    const h = await startHarness({ emulator: { count: 1, storageSize: 3 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    for (let i = 1; i <= 3; i++) modem.inject({ sender: "79007777777", text: `filler ${i}`, lostCmti: true });
    assert.equal(modem.storage().length, 3);
    modem.inject({ sender: "79007777777", text: "the one that waited" });
    await waitFor(() => h.received.length === 4, "all four messages");
    assert.ok(h.received.some((m) => m.text === "the one that waited"));
    assert.ok(modem.counters.rejectedFull >= 1, "the modem really was full");
  });

  it("garbage bytes and a malformed PDU neither crash nor block the SIM; the PDU is quarantined raw", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    modem.garbage();
    modem.garbage(Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a, 0x4f, 0x4b]));
    const malformed = "07919700000000F0040B91970011213200";
    modem.injectPdu(malformed);
    await waitFor(() => modem.storage().length === 0, "malformed slot deleted");
    const quarantined: unknown[] = [];
    for await (const [key, value] of h.store.sub("parts").iterator({ gte: "quarantine!", lt: "quarantine!\xff" })) quarantined.push([key, value]);
    assert.equal(quarantined.length, 1);
    assert.equal((quarantined[0] as [string, { raw: string }])[1].raw, malformed);
    assert.equal(h.received.length, 0);
    modem.inject({ sender: "79008888888", text: "after the noise" });
    await waitFor(() => h.received.length === 1, "a normal SMS after the noise");
    assert.equal(h.layer.list()[0]?.state, "ready");
  });
});

/** The second part of the message injected in "parts wait in the store across a restart". */
function partTwo(modem: EmulatedModem): string {
  // a throwaway modem encodes the same message with the same reference; its part 2 is what the network would deliver
  const scratch = new EmulatedModem({ imei: "1", imsi: "1", iccid: "1", storageSize: 5 });
  const slots = scratch.inject({ sender: "79003333333", text: "p".repeat(153) + "q".repeat(50), ref: 7, drop: [1] });
  const pdu = scratch.storage().find((s) => s.index === slots[0])?.pdu;
  scratch.dispose();
  void modem;
  if (!pdu) throw new Error("no part 2");
  return pdu;
}
