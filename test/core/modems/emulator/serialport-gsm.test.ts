/** serialport-gsm, unchanged, drives the emulator through EmulatedSerialPort. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createRequire } from "node:module";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../../core/modems/emulator/index.ts";
import { modemOptions } from "./helpers.ts";

const require = createRequire(import.meta.url);
type GsmModem = {
  open(path: string, options: Record<string, unknown>): Promise<unknown>;
  close(): Promise<unknown>;
  initializeModem(): Promise<{ status: string }>;
  setModemMode(mode: string): Promise<{ data: string }>;
  getSimInbox(): Promise<{ data: { sender: string; message: string; index: number }[] }>;
  getOwnNumber(): Promise<{ data: { number: string } }>;
  checkSimMemory(): Promise<{ data: { used: number; total: number } }>;
  getNetworkSignal(): Promise<{ data: { signalQuality: string } }>;
  getModemSerial(): Promise<{ data: { modemSerial: string } }>;
  deleteSimMessages(index: number): Promise<unknown>;
  sendUSSD(code: string): Promise<unknown>;
  executeCommand(command: string): Promise<{ data: { result: string } }>;
  on(event: string, listener: (...args: never[]) => void): void;
};
const ModemFactory = require("serialport-gsm/lib/functions/modem") as new (port: unknown) => GsmModem;
const attachUssd = require("serialport-gsm/lib/functions/ussd") as (modem: GsmModem) => void;

const PATH = "/emu/by-path/usb-0:1.4:1.2";

describe("serialport-gsm against the emulator", () => {
  after(() => emulatorRegistry.unregister(PATH));

  it("opens, initializes, reads the inbox and receives a new SMS through +CMTI", async () => {
    const modem = new EmulatedModem(modemOptions({ msisdn: "79161234567", cnum: true, signal: 23, ussdNumberReply: "Nomer: 79161234567" }));
    emulatorRegistry.register(PATH, modem);
    modem.inject({ sender: "79161112233", text: "stored before open" });

    const gsm = new ModemFactory(EmulatedSerialPort);
    attachUssd(gsm);
    await gsm.open(PATH, { baudRate: 115200, incomingSMSIndication: true, cnmiCommand: "AT+CNMI=2,1,0,2,1" });
    assert.equal((await gsm.initializeModem()).status, "success");
    assert.equal((await gsm.setModemMode("PDU")).data, "PDU_Mode");

    const inbox = await gsm.getSimInbox();
    assert.deepEqual(inbox.data.map((sms) => [sms.index, sms.sender, sms.message]), [[1, "79161112233", "stored before open"]]);
    assert.equal((await gsm.getOwnNumber()).data.number, "+79161234567");
    assert.deepEqual((await gsm.checkSimMemory()).data, { used: 1, total: 30 });
    assert.equal((await gsm.getNetworkSignal()).data.signalQuality, "23");
    assert.equal((await gsm.getModemSerial()).data.modemSerial, modem.options.imei);
    assert.equal((await gsm.executeCommand("AT+CIMI")).data.result, "OK");

    const arrived = once(gsm as unknown as NodeJS.EventEmitter, "onNewMessage");
    modem.inject({ sender: "Telegram", text: "Код 1234 🔥👍" });
    const [messages] = (await arrived) as [{ sender: string; message: string; index: number }[]];
    assert.equal(messages[0]?.sender, "Telegram");
    assert.equal(messages[0]?.message, "Код 1234 🔥👍");
    assert.equal(messages[0]?.index, 2);

    await gsm.deleteSimMessages(1);
    assert.equal(modem.counters.byCommand["+CMGD"], 1);
    assert.deepEqual(modem.storage().map((slot) => slot.index), [2]);

    await gsm.executeCommand('AT+CSCS="UCS2"');
    const ussd = once(gsm as unknown as NodeJS.EventEmitter, "onNewIncomingUSSD");
    await gsm.sendUSSD("*111*0887#");
    const [answer] = (await ussd) as [{ data: { text: string; followCode: string } }];
    assert.equal(answer.data.text, "Nomer: 79161234567");

    const closed = once(gsm as unknown as NodeJS.EventEmitter, "close");
    await gsm.close();
    await closed;
    assert.equal(modem.isAttached, false);
  });
});
