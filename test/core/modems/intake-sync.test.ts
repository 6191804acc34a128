import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { slowOnce, startHarness, waitFor, type Harness } from "./harness.ts";

after(() => emulatorRegistry.clear());

async function texts(h: Harness): Promise<string[]> {
  return (await new MessageRepository(h.store).listRecent(100)).map((m) => m.text).sort();
}

async function quarantined(h: Harness): Promise<{ raw: string; reason: string }[]> {
  const found: { raw: string; reason: string }[] = [];
  for await (const [, value] of h.store.sub("parts").iterator({ gte: "quarantine!", lt: "quarantine!\xff" })) found.push(value as { raw: string; reason: string });
  return found;
}

describe("the intake never deletes a slot on a reply that is not the read's own", () => {
  it("a late reply to a timed-out AT+CMGR is not taken for the next slot's content", async (t) => {
    const h = await startHarness({ emulator: { count: 1 }, commandTimeoutSeconds: 0.5 });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const deleted: number[] = [];
    modem.on("deleted", (index: number) => deleted.push(index));
    // slot 1's reply comes 150 ms after the host's timeout; slot 2 arrives meanwhile
    slowOnce(modem, "AT+CMGR=1", 650, () => setTimeout(() => modem.inject({ sender: "79002222222", text: "second SMS, slot 2" }), 100));
    modem.inject({ sender: "79001111111", text: "first SMS, slot 1" });
    // the failed read is followed by a sweep at once: both slots are taken, each with its own SMS
    await waitFor(() => deleted.includes(1) && deleted.includes(2), "both slots taken");
    assert.deepEqual(await texts(h), ["first SMS, slot 1", "second SMS, slot 2"]);
    assert.equal(modem.storage().length, 0);
  });

  it("a final result code forged by line noise during AT+CMGR costs no SMS", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    // "OK" appears while the modem is still reading slot 1, and slot 2 is announced meanwhile
    slowOnce(modem, "AT+CMGR=1", 150, () =>
      setImmediate(() => {
        modem.garbage("\r\nOK\r\n");
        modem.inject({ sender: "79002222222", text: "second SMS, slot 2" });
      }),
    );
    modem.inject({ sender: "79001111111", text: "first SMS, slot 1" });
    await waitFor(() => h.received.length === 2 && modem.storage().length === 0, "both slots taken");
    assert.deepEqual(await texts(h), ["first SMS, slot 1", "second SMS, slot 2"]);
  });

  for (const noise of ["+CTZV: 24/05/01,12:00:00,+12", '*PSUTTZ: 24,5,1,12,0,0,"+12",0', "\u0000\u00ff#", "+CSQN: 20,99"]) {
    it(`a line (${JSON.stringify(noise)}) between the +CMGR/+CMGL header and the PDU does not cost the SMS`, async (t) => {
      const h = await startHarness({ emulator: { count: 1 } });
      t.after(() => h.dispose());
      const [modem] = h.modems;
      assert.ok(modem);
      modem.insertInReply(noise, { times: 2 });
      modem.inject({ sender: "79001234567", text: "Your code 4711" }); // read with AT+CMGR
      await waitFor(() => modem.storage().length === 0, "slot deleted");
      modem.inject({ sender: "79001234568", text: "Your code 4712", lostCmti: true }); // read with AT+CMGL=4
      await h.layer.sweepAll();
      assert.equal(modem.storage().length, 0);
      assert.deepEqual(await texts(h), ["Your code 4711", "Your code 4712"]);
      assert.deepEqual(await quarantined(h), []);
    });
  }

  it("a damaged PDU line (not the header's length) is kept raw and the slot stays until a re-read", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    assert.ok(modem);
    const reads: string[] = [];
    modem.on("command", (line: string) => {
      if (/^AT\+CMG[RL]/.test(line)) reads.push(line);
    });
    let deletedAfterReads = 0;
    modem.on("deleted", () => (deletedAfterReads = reads.length));
    modem.insertInReply("0791970000000000F0040B", { replace: true }); // the first read shows a truncated line
    modem.inject({ sender: "79001234567", text: "Your code 4711" });
    await waitFor(() => h.received.length === 1 && modem.storage().length === 0, "the SMS taken on the re-read");
    assert.equal(h.received[0]?.text, "Your code 4711");
    assert.equal(deletedAfterReads, 2, "deleted only after the second read");
    assert.deepEqual((await quarantined(h)).map((q) => q.raw), ["0791970000000000F0040B"], "the damaged line is kept raw");
  });
});
