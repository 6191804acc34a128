import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { servePty } from "../../../core/modems/emulator/pty.ts";
import { hasSocat, startHarness, waitFor } from "./harness.ts";
import { needsTool } from "../../helpers/process.ts";

describe("modem layer over a real pty (native serialport binding)", { skip: needsTool(hasSocat(), "socat not installed") }, () => {
  it("discovers, initialises and receives single and multipart SMS through /dev/pts", async (t) => {
    const modem = new EmulatedModem({ imei: "860000000000321", imsi: "250010000000321", iccid: "89701990000000003210", msisdn: "79000000321", cnum: true });
    const pty = await servePty(modem);
    t.after(() => pty.close());
    modem.inject({ sender: "79001234567", text: "stored before start" });
    // default port class: serialport's SerialPort over the native binding
    const h = await startHarness({ ports: [pty.path] });
    t.after(() => h.dispose());
    const [info] = h.layer.list();
    assert.equal(info?.state, "ready");
    assert.equal(info?.msisdn, "79000000321");
    await waitFor(() => h.received.length === 1, "the stored SMS");
    modem.inject({ sender: "79007654321", text: "Код: 1234 😀 ".repeat(12), ref: 300, refBits: 16, order: [2, 1, 3] });
    await waitFor(() => h.received.length === 2, "the multipart SMS");
    assert.equal(h.received[1]?.text, "Код: 1234 😀 ".repeat(12));
    // The slots are deleted right after the parts are on disk, so a moment after the message is announced.
    await waitFor(() => modem.storage().length === 0, "the SIM's slots deleted after persisting");
  });
});
