import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { encodeDeliver } from "../../../core/modems/pdu/index.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

const TEXT = "p".repeat(153) + "q".repeat(50); // two GSM 7-bit parts

function twoParts(sender: string, ref: number): [string, string] {
  const [first, second] = encodeDeliver({ sender, text: TEXT, ref, timestamp: new Date(Date.UTC(2025, 0, 1)) });
  assert.ok(first && second);
  return [first, second];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("incomplete multipart release after hub downtime", () => {
  it("a part stored on the SIM while the hub was down longer than the timeout is joined at start, not released split", async (t) => {
    const prefix = "/emu/downtime/";
    const path = `${prefix}usb-0:1.1:1.2`;
    const modem = new EmulatedModem({ imei: "860000000000993", imsi: "250010000000993", iccid: "89701990000000009933", msisdn: "79000000993", cnum: true });
    emulatorRegistry.register(path, modem);
    const config = { ports: [`${prefix}*`], multipartTimeoutSeconds: 1, sweepSeconds: 1 };
    const options = { layer: { portClass: EmulatedSerialPort } };
    const [part1, part2] = twoParts("79003333333", 7);

    const first = await startHarness(config, options);
    t.after(() => first.dispose());
    modem.injectPdu(part1);
    await waitFor(() => modem.storage().length === 0, "part 1 taken");
    await first.stop();
    await sleep(1100); // the hub is down longer than multipartTimeoutSeconds
    modem.injectPdu(part2, { lostCmti: true });

    const second = await startHarness(config, { ...options, dir: first.dir });
    t.after(() => second.stop());
    await waitFor(() => second.received.length > 0, "the message");
    assert.equal(second.received[0]?.complete, true);
    assert.equal(second.received[0]?.parts, 2);
    assert.equal(second.received[0]?.text, TEXT);
  });

  it("a group is held while its SIM's modem has not swept since start; another SIM's group is released meanwhile", async (t) => {
    const prefix = "/emu/release-per-sim/";
    const pathX = `${prefix}usb-0:1.1:1.2`;
    const pathY = `${prefix}usb-0:1.2:1.2`;
    const x = new EmulatedModem({ imei: "860000000000981", imsi: "250010000000981", iccid: "89701990000000009818", msisdn: "79000000981", cnum: true });
    const y = new EmulatedModem({ imei: "860000000000982", imsi: "250010000000982", iccid: "89701990000000009826", msisdn: "79000000982", cnum: true });
    emulatorRegistry.register(pathX, x);
    emulatorRegistry.register(pathY, y);
    const config = { ports: [`${prefix}*`], multipartTimeoutSeconds: 1, sweepSeconds: 1 };
    const [x1, x2] = twoParts("79004444444", 11);
    const [y1] = twoParts("79005555555", 12);

    const first = await startHarness(config, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => first.dispose());
    x.injectPdu(x1);
    y.injectPdu(y1);
    await waitFor(() => x.storage().length === 0 && y.storage().length === 0, "both first parts taken");
    await first.stop();

    x.hang(); // X's modem is still booting when the hub starts again: its port does not answer the probe
    const second = await startHarness(config, { dir: first.dir, layer: { portClass: EmulatedSerialPort, probeRetry: { firstMs: 600_000, maxMs: 600_000 } } });
    t.after(() => second.stop());
    await waitFor(() => second.received.find((m) => m.iccid === y.options.iccid), "Y's incomplete message released");
    assert.equal(second.received.find((m) => m.iccid === y.options.iccid)?.complete, false);
    assert.equal(second.received.find((m) => m.iccid === x.options.iccid), undefined, "X's group is held while X has not swept");

    x.unhang();
    x.injectPdu(x2, { lostCmti: true });
    await second.layer.rescan();
    const message = await waitFor(() => second.received.find((m) => m.iccid === x.options.iccid), "X's message");
    assert.equal(message.complete, true);
    assert.equal(message.text, TEXT);
  });
});
