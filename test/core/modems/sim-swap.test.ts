import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { startHarness, waitFor, type Harness } from "./harness.ts";

after(() => emulatorRegistry.clear());

const IMEI = "860000000000123";
const SIM_A = { imsi: "250010000000123", iccid: "89701990000000001236", msisdn: "79000000123" };

/** SIM A (number by CNUM) ready on `path`; then the modem is unplugged and comes back with `simB` in it. */
async function swapSims(prefix: string, simB: ConstructorParameters<typeof EmulatedModem>[0], config = {}): Promise<{ h: Harness; path: string }> {
  const path = `${prefix}usb-0:1.1:1.2`;
  const a = new EmulatedModem({ imei: IMEI, ...SIM_A, cnum: true });
  emulatorRegistry.register(path, a);
  const h = await startHarness({ ports: [`${prefix}*`], absentSeconds: 3600, ...config }, { layer: { portClass: EmulatedSerialPort } });
  assert.equal(h.info(path)?.msisdn, SIM_A.msisdn);
  assert.equal(h.layer.numbers.byMsisdn(SIM_A.msisdn)?.iccid, SIM_A.iccid);
  a.unplug();
  await waitFor(() => h.info(path)?.state === "absent", "absent");
  emulatorRegistry.unregister(path);
  const b = new EmulatedModem(simB);
  b.inject({ sender: "79001112233", text: "stored on SIM B", lostCmti: true });
  emulatorRegistry.register(path, b);
  await h.layer.rescan();
  await waitFor(() => h.info(path)?.state === "ready" && h.info(path)?.iccid === simB.iccid, "ready with SIM B");
  await waitFor(() => h.received.length === 1, "SIM B's stored SMS");
  return { h, path };
}

describe("another SIM in the same modem", () => {
  it("whose number cannot be learned: no number, none offered, its SMS not tagged with the old one", async (t) => {
    const { h, path } = await swapSims("/emu/swap1/", { imei: IMEI, imsi: "250010000000456", iccid: "89701990000000004562", cnum: false });
    t.after(() => h.dispose());
    const info = h.info(path);
    assert.equal(info?.msisdn, undefined, "SIM B's number is unknown");
    assert.equal(info?.imsi, "250010000000456");
    assert.deepEqual(h.layer.numbers.list(), [], "no number offered for SIM B");
    assert.equal(h.layer.numbers.byMsisdn(SIM_A.msisdn), undefined, "SIM A's number is not offered with SIM B");
    assert.equal(h.received[0]?.iccid, "89701990000000004562");
    assert.equal(h.received[0]?.msisdn, undefined, "swept SMS not tagged with SIM A's number");
  });

  it("whose number AT+CNUM gives: SMS swept at start carry SIM B's number, and the view offers it", async (t) => {
    const simB = { imei: IMEI, imsi: "250020000000456", iccid: "89701990000000004562", cnum: true, msisdn: "79000000456", operator: "MegaFon" };
    const { h, path } = await swapSims("/emu/swap2/", simB);
    t.after(() => h.dispose());
    assert.equal(h.info(path)?.msisdn, "79000000456");
    assert.equal(h.info(path)?.operator, "megafon", "operator rebuilt from SIM B's IMSI");
    assert.deepEqual(
      h.layer.numbers.list().map((n) => [n.msisdn, n.iccid, n.operator]),
      [["79000000456", "89701990000000004562", "megafon"]],
    );
    assert.equal(h.received[0]?.msisdn, "79000000456", "the SMS swept at start is SIM B's");
  });

  it("an SMS announced while the new SIM is being initialised is stored under the new SIM, not the old one", async (t) => {
    const prefix = "/emu/swap3/";
    const path = `${prefix}usb-0:1.1:1.2`;
    const a = new EmulatedModem({ imei: IMEI, ...SIM_A, cnum: true });
    emulatorRegistry.register(path, a);
    const h = await startHarness({ ports: [`${prefix}*`], absentSeconds: 3600 }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    a.unplug();
    await waitFor(() => h.info(path)?.state === "absent", "absent");
    emulatorRegistry.unregister(path);
    const b = new EmulatedModem({ imei: IMEI, imsi: "250010000000456", iccid: "89701990000000004562", cnum: true, msisdn: "79000000456" });
    const during = (line: string) => {
      if (line !== "AT+CMGF=0") return; // identity read, init not finished
      b.off("command", during);
      b.inject({ sender: "79001112233", text: "during init" }); // +CMTI now
    };
    b.on("command", during);
    emulatorRegistry.register(path, b);
    await h.layer.rescan();
    await waitFor(() => h.received.length === 1, "the SMS");
    assert.equal(h.received[0]?.iccid, "89701990000000004562");
    assert.equal(h.received[0]?.msisdn, "79000000456");
  });
});
