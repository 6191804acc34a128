import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { isSimhiveError } from "../../../core/errors.ts";
import { silentLogger } from "../../../core/log.ts";
import { AtCommandError, AtPort } from "../../../core/modems/at.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { encodeDeliver, tpduLength } from "../../../core/modems/pdu/index.ts";
import type { Urc } from "../../../core/modems/urc.ts";
import { slowOnce, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

let serial = 0;
async function openModem(options: Partial<ConstructorParameters<typeof EmulatedModem>[0]> = {}) {
  serial++;
  const path = `/emu/at/usb-0:1.${serial}:1.2`;
  const modem = new EmulatedModem({ imei: `86000000000${String(serial).padStart(4, "0")}`, imsi: "250010000000001", iccid: "89701990000000000017", ...options });
  emulatorRegistry.register(path, modem);
  const at = new AtPort({ path, portClass: EmulatedSerialPort, log: silentLogger(), timeoutMs: 2000 });
  const urcs: Urc[] = [];
  at.on("urc", (urc) => urcs.push(urc));
  await at.open();
  return { modem, at, urcs, path };
}

describe("AtPort (serialport-gsm adapter)", () => {
  it("returns a command's information lines, with echo on or off", async () => {
    const { at } = await openModem();
    assert.deepEqual(await at.command("AT+CGSN"), ["860000000000001"]);
    await at.command("ATE0");
    assert.deepEqual(await at.command("AT+CSQ"), ["+CSQ: 20,99"]);
    await at.close();
  });

  it("rejects ERROR / +CME ERROR with a coded AtCommandError", async () => {
    const { at } = await openModem({ pinRequired: true, pin: "1234" });
    await at.command("AT+CMEE=1");
    await assert.rejects(at.command('AT+CPIN="0000"'), (error: unknown) => error instanceof AtCommandError && error.code === "SIMHIVE_ERR_MODEM" && /^\+CME ERROR: \d+$/.test(error.final));
    await assert.rejects(at.command("AT+NOPE"), (error: unknown) => error instanceof AtCommandError && error.final === "ERROR");
    assert.deepEqual(await at.command("AT"), []);
    await at.close();
  });

  it("keeps one command in flight: concurrent callers get their own replies in order", async () => {
    const { at } = await openModem();
    await at.command("ATE0");
    const [imei, csq, ccid] = await Promise.all([at.command("AT+CGSN"), at.command("AT+CSQ"), at.command("AT+CCID")]);
    assert.deepEqual(imei, ["860000000000003"]);
    assert.deepEqual(csq, ["+CSQ: 20,99"]);
    assert.deepEqual(ccid, ["+CCID: 89701990000000000017"]);
    await at.close();
  });

  it("recognises an unsolicited line arriving in the middle of a reply and keeps it out of the reply", async () => {
    const { at, modem, urcs } = await openModem();
    await at.command("ATE0");
    modem.slow(150);
    const reply = at.command("AT+CSQ");
    await new Promise((resolve) => setTimeout(resolve, 30));
    modem.garbage('\r\n+CMTI: "SM",7\r\n\r\n+CUSD: 0,"Vash nomer +79001234567",15\r\n\r\n+CREG: 5\r\n');
    assert.deepEqual(await reply, ["+CSQ: 20,99"]);
    assert.deepEqual(urcs, [
      { type: "cmti", storage: "SM", index: 7 },
      { type: "cusd", status: 0, text: "Vash nomer +79001234567", dcs: 15 },
      { type: "creg", stat: 5 },
    ]);
    modem.slow(0);
    await at.close();
  });

  it("times out a command on its own timer and answers the next one after the modem comes back", async () => {
    const { at, modem } = await openModem();
    await at.command("ATE0");
    modem.hang();
    await assert.rejects(at.command("AT+CSQ", { timeoutMs: 200 }), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_TIMEOUT"));
    modem.unhang();
    assert.deepEqual(await at.command("AT+CGSN"), ["860000000000005"]);
    await at.close();
  });

  it("survives line noise between commands", async () => {
    const { at, modem } = await openModem();
    await at.command("ATE0");
    modem.garbage();
    modem.garbage(Buffer.from([0x00, 0xff, 0x13, 0x37]));
    await at.flush(50, 500);
    assert.deepEqual(await at.command("AT+CSQ"), ["+CSQ: 20,99"]);
    await at.close();
  });

  it("rejects in-flight commands and emits close when the device is unplugged", async () => {
    const { at, modem } = await openModem();
    await at.command("ATE0");
    modem.slow(500);
    const closed = new Promise<string>((resolve) => at.once("close", resolve));
    const pending = at.command("AT+CSQ");
    await new Promise((resolve) => setTimeout(resolve, 20));
    modem.unplug();
    await assert.rejects(pending, (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_MODEM"));
    await closed;
    assert.equal(at.isOpen, false);
    await assert.rejects(at.command("AT"), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_MODEM"));
    await at.close();
  });

  it("never lets serialport-gsm read or delete on +CMTI behind the intake's back", async () => {
    const { at, modem } = await openModem();
    await at.command("ATE0");
    await at.command("AT+CMGF=0;+CNMI=2,1,0,0,0");
    const before = modem.counters.commands;
    modem.inject({ sender: "79001234567", text: "stays until the intake takes it" });
    await waitFor(() => modem.counters.urcs > 0, "+CMTI sent");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(modem.counters.commands, before, "no AT+CMGR/AT+CMGD issued by the driver");
    assert.equal(modem.storage().length, 1);
    await at.close();
  });
});

const [PDU] = encodeDeliver({ sender: "79001234567", text: "Your code 4711", timestamp: new Date(0), smsc: "79000000000" });

describe("AtPort keeps replies in step with commands", () => {
  it("after a timeout, the late reply is dropped by a resync marker instead of answering the next command", async () => {
    const { at, modem } = await openModem({ echo: false });
    const lines: string[] = [];
    modem.on("command", (line: string) => lines.push(line));
    slowOnce(modem, "AT+CGSN", 400);
    await assert.rejects(at.command("AT+CGSN", { timeoutMs: 150 }), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_TIMEOUT"));
    assert.deepEqual(await at.command("AT+CSQ"), ["+CSQ: 20,99"], "its own reply, not the IMEI");
    assert.equal(at.resyncs, 1);
    assert.match(lines[1] ?? "", /^AT\+(CMGF|CNMI|CMEE)\?$/, "a marker went between");
    assert.equal(at.inSync, true);
    await at.close();
  });

  it("a verified command refuses a reply ended by a forged OK, and the next one gets its own", async () => {
    const { at, modem } = await openModem({ echo: false });
    modem.inject({ sender: "79001234567", text: "slot one", lostCmti: true });
    modem.inject({ sender: "79001234568", text: "slot two", lostCmti: true });
    // noise that reads as a final result code arrives while the modem is still working on AT+CMGR=1
    slowOnce(modem, "AT+CMGR=1", 150, () => setImmediate(() => modem.garbage("\r\nOK\r\n")));
    await assert.rejects(at.command("AT+CMGR=1", { verified: true }), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_MODEM") && /not its own/.test((error as Error).message));
    const read = await at.command("AT+CMGR=2", { verified: true });
    const expected = modem.storage().find((slot) => slot.index === 2)?.pdu;
    assert.equal(read[1], expected, "slot 2's PDU, not slot 1's late reply");
    assert.equal(read.length, 2, "the marker's line is stripped");
    await at.close();
  });

  it("a line answering another command makes a reply not its own", async () => {
    const { at, modem } = await openModem({ echo: false });
    modem.insertInReply("+CMGL: 1,0,,23", { after: /^\+CPMS:/ });
    await assert.rejects(at.command("AT+CPMS?"), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_MODEM"));
    assert.equal(at.inSync, false);
    assert.match((await at.command("AT+CPMS?"))[0] ?? "", /^\+CPMS: "SM"/);
    await at.close();
  });

  it("an unlisted vendor line while idle is an unsolicited line, not a reason to resync", async () => {
    const { at, modem, urcs } = await openModem({ echo: false });
    modem.garbage("\r\n+CTZV: 24/05/01,12:00:00,+12\r\n");
    await waitFor(() => urcs.length === 1, "the vendor line");
    assert.deepEqual(urcs, [{ type: "other", line: "+CTZV: 24/05/01,12:00:00,+12" }]);
    assert.deepEqual(await at.command("AT+CSQ"), ["+CSQ: 20,99"]);
    assert.equal(at.resyncs, 0);
    await at.close();
  });

  it("an unsolicited +CMS ERROR: 322 during a command that cannot answer it is a storage-full indication", async () => {
    const { at, modem, urcs } = await openModem({ echo: false });
    slowOnce(modem, "AT+CSQ", 100, () => setImmediate(() => modem.garbage("\r\n+CMS ERROR: 322\r\n")));
    assert.deepEqual(await at.command("AT+CSQ"), ["+CSQ: 20,99"]);
    assert.deepEqual(urcs, [{ type: "memfull", storage: "" }]);
    await at.close();
  });

  it("+CMT: the PDU is the next hex line of the announced length, past an unlisted line", async () => {
    const { at, modem, urcs } = await openModem({ echo: false });
    assert.ok(PDU);
    modem.garbage(`\r\n+CMT: ,${tpduLength(PDU)}\r\n\r\n+CTZV: 24/05/01,12:00:00,+12\r\n\r\n${PDU}\r\n`);
    await waitFor(() => urcs.some((urc) => urc.type === "cmt"), "the +CMT");
    assert.deepEqual(urcs, [{ type: "other", line: "+CTZV: 24/05/01,12:00:00,+12" }, { type: "cmt", pdu: PDU }]);
    await at.close();
  });

  it("an open that times out and succeeds later closes the port again, so the next open gets it", async () => {
    serial++;
    const path = `/emu/at/usb-0:1.${serial}:1.2`;
    const modem = new EmulatedModem({ imei: "861000000009999", imsi: "250010000000001", iccid: "89701990000000000017" });
    emulatorRegistry.register(path, modem);
    modem.slowOpen(300);
    const opened = once(modem, "open");
    const first = new AtPort({ path, portClass: EmulatedSerialPort, log: silentLogger(), openTimeoutMs: 50 });
    await assert.rejects(first.open(), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_TIMEOUT"));
    await opened;
    await waitFor(() => !modem.isAttached, "the late port closed", 5000);
    modem.slowOpen(0);
    const second = new AtPort({ path, portClass: EmulatedSerialPort, log: silentLogger() });
    await second.open();
    assert.deepEqual(await second.command("AT"), []);
    await second.close();
    await first.close();
  });
});
