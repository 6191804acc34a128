import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry, type EmulatedModemOptions } from "../../../core/modems/emulator/index.ts";
import type { BatchOp } from "../../../core/store/store.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

let serial = 0;
/** A layer on one emulated modem with the given options (its own path glob). */
async function start(options: Partial<EmulatedModemOptions>) {
  serial++;
  const dir = `/emu/intake-direct-${serial}`;
  const modem = new EmulatedModem({ imei: `86200000000${String(serial).padStart(4, "0")}`, imsi: "250010000000777", iccid: `8970199000000000${String(serial).padStart(4, "0")}`, msisdn: "79000000777", cnum: true, ...options });
  emulatorRegistry.register(`${dir}/usb-0:1.1:1.2`, modem);
  const h = await startHarness({ ports: [`${dir}/*`] }, { layer: { portClass: EmulatedSerialPort } });
  const events: string[] = [];
  const batch = h.store.batch.bind(h.store);
  h.store.batch = async (ops: readonly BatchOp[]) => {
    await batch(ops);
    if (ops.some((op) => op.key.startsWith("pdu!"))) events.push("batch");
  };
  modem.on("command", (line: string) => events.push(line));
  return { h, modem, events };
}

describe("SMS delivered directly (+CMT)", () => {
  it("a phase 2+ modem that fell back to direct delivery: persisted first, then acknowledged with AT+CNMA", async (t) => {
    const { h, modem, events } = await start({ csms: 1 });
    t.after(() => h.dispose());
    modem.session.cnmi[1] = 2; // the firmware routes new SMS straight to the host (CNMI mt=2)
    modem.inject({ sender: "79001234567", text: "Your code 4711" });
    assert.equal(modem.storage().length, 0, "never stored on the SIM");
    await waitFor(() => modem.counters.acked === 1, "the acknowledgement");
    assert.deepEqual(h.received.map((m) => [m.text, m.sender]), [["Your code 4711", "79001234567"]]);
    assert.ok(events.indexOf("batch") < events.indexOf("AT+CNMA"), "acknowledged only once on disk");
    assert.equal(modem.counters.ackTimeouts, 0);
  });

  it("a class 0 (flash) SMS a phase 2 modem sends as +CMT is persisted, and not acknowledged (nothing expects it)", async (t) => {
    const { h, modem, events } = await start({ flashDirect: true });
    t.after(() => h.dispose());
    modem.inject({ sender: "Bank", text: "Flash: code 9981", flash: true });
    await waitFor(() => h.received.length === 1, "the flash SMS");
    assert.equal(h.received[0]?.text, "Flash: code 9981");
    assert.equal(modem.counters.direct, 1);
    await waitFor(() => events.includes("AT+CSMS?"), "the service asked");
    await h.layer.sweepAll();
    assert.ok(!events.includes("AT+CNMA"));
  });
});

describe("storage full signalled with an unsolicited +CMS ERROR: 322", () => {
  it("is detected, the SIM is swept free and the waiting SMS arrives", async (t) => {
    const { h, modem } = await start({ storageSize: 3, memFullSignal: "cms322" });
    t.after(() => h.dispose());
    for (let i = 1; i <= 3; i++) modem.inject({ sender: "79007777777", text: `filler ${i}`, lostCmti: true });
    assert.equal(modem.storage().length, 3);
    modem.inject({ sender: "79007777777", text: "the one that waited" });
    assert.equal(modem.counters.rejectedFull, 1, "the modem really was full");
    await waitFor(() => h.received.length === 4, "all four messages");
    assert.ok(h.received.some((m) => m.text === "the one that waited"));
    assert.equal(modem.pendingAtNetwork(), 0);
  });
});
