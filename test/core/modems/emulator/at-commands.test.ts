import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { decodeDeliver } from "../../../../core/modems/pdu/index.ts";
import { EmulatedModem, RawSession, createBench, modemOptions } from "./helpers.ts";
import type { EmulatedModemOptions } from "../../../../core/modems/emulator/index.ts";

const PATH = "/emu/by-path/usb-0:1.1:1.2";
let bench: ReturnType<typeof createBench>;
let sessions: RawSession[] = [];

async function start(overrides: Partial<EmulatedModemOptions> = {}): Promise<{ modem: EmulatedModem; at: RawSession }> {
  const modem = new EmulatedModem(modemOptions(overrides));
  bench.registry.register(PATH, modem);
  const at = await RawSession.open(bench.Port, PATH);
  sessions.push(at);
  return { modem, at };
}

beforeEach(() => {
  bench = createBench();
  sessions = [];
});
afterEach(async () => {
  for (const session of sessions) await session.close();
  bench.registry.clear();
});

describe("basic commands and framing", () => {
  it("echoes the command line and frames replies like a real modem", async () => {
    const { at } = await start({ signal: 17 });
    assert.equal(await at.command("AT"), "AT\r\r\nOK\r\n");
    assert.equal(await at.command("AT+CSQ"), "AT+CSQ\r\r\n+CSQ: 17,99\r\n\r\nOK\r\n");
    assert.equal(await at.command("ATE0"), "ATE0\r\r\nOK\r\n");
    assert.equal(await at.command("AT+CSQ"), "\r\n+CSQ: 17,99\r\n\r\nOK\r\n");
    assert.equal(await at.command("ATE1"), "\r\nOK\r\n");
    assert.match(await at.command("ATE0"), /^ATE0\r/);
    await at.command("ATZ");
    assert.match(await at.command("AT"), /^AT\r/, "ATZ restores echo");
  });

  it("answers unknown commands with ERROR", async () => {
    const { at } = await start({ echo: false });
    assert.equal(await at.command("AT+FOOBAR"), "\r\nERROR\r\n");
    assert.equal(await at.command("ATV0"), "\r\nERROR\r\n");
  });

  it("reports errors according to AT+CMEE", async () => {
    const { at } = await start({ echo: false, storageSize: 10 });
    assert.equal(await at.command("AT+CMGR=99"), "\r\nERROR\r\n");
    await at.command("AT+CMEE=1");
    assert.equal(await at.command("AT+CMGR=99"), "\r\n+CMS ERROR: 321\r\n");
    assert.equal(await at.command("AT+CSCS=\"KOI8\""), "\r\n+CME ERROR: 4\r\n");
    await at.command("AT+CMEE=2");
    assert.equal(await at.command("AT+CMGR=99"), "\r\n+CMS ERROR: invalid memory index\r\n");
    assert.match(await at.command("AT+CMEE?"), /\+CMEE: 2/);
  });

  it("runs chained commands and stops at the first error", async () => {
    const { at, modem } = await start({ echo: false });
    assert.equal(await at.command("AT+CMGF=1;+CMGF?;+CSCS?"), '\r\n+CMGF: 1\r\n\r\n+CSCS: "GSM"\r\n\r\nOK\r\n');
    assert.equal(await at.command("AT+CMGF=0;+NOPE;+CMGF=1"), "\r\nERROR\r\n");
    assert.equal(modem.session.cmgf, 0, "the command after the failing one did not run");
    assert.equal(await at.command("AT+CMGF=0;+CNMI=2,1,0,0,0"), "\r\nOK\r\n");
    assert.deepEqual(modem.session.cnmi, [2, 1, 0, 0, 0]);
    assert.equal(await at.command("ATE0+CMEE=1"), "\r\nOK\r\n");
    assert.equal(modem.session.cmee, 1);
  });

  it("counts commands by name", async () => {
    const { at, modem } = await start();
    await at.command("AT+CMGD=1");
    await at.command("AT+CMGD=2;+CMGD=3");
    assert.equal(modem.counters.byCommand["+CMGD"], 3);
    assert.equal(modem.counters.commands, 2);
  });
});

describe("identity and network", () => {
  it("answers IMEI, IMSI, ICCID, operator and ATI", async () => {
    const { at, modem } = await start({ echo: false, operator: "Beeline" });
    const { imei, imsi, iccid } = modem.options;
    assert.equal(await at.command("AT+CGSN"), `\r\n${imei}\r\n\r\nOK\r\n`);
    assert.equal(await at.command("AT+GSN"), `\r\n${imei}\r\n\r\nOK\r\n`);
    assert.equal(await at.command("AT+CIMI"), `\r\n${imsi}\r\n\r\nOK\r\n`);
    assert.equal(await at.command("AT+CCID"), `\r\n+CCID: ${iccid}\r\n\r\nOK\r\n`);
    assert.equal(await at.command("AT+ICCID"), `\r\n+CCID: ${iccid}\r\n\r\nOK\r\n`);
    assert.match(await at.command("AT+COPS?"), /\+COPS: 0,0,"Beeline",2\r\n/);
    assert.match(await at.command("ATI"), new RegExp(`IMEI: ${imei}`));
  });

  it("answers AT+CNUM only when the SIM knows its number", async () => {
    const withNumber = await start({ echo: false, cnum: true, msisdn: "79161234567" });
    assert.equal(await withNumber.at.command("AT+CNUM"), '\r\n+CNUM: "","+79161234567",145\r\n\r\nOK\r\n');
    await withNumber.at.close();
    bench.registry.clear();
    const without = await start({ echo: false, cnum: false, msisdn: "79161234567" });
    assert.equal(await without.at.command("AT+CNUM"), "\r\nOK\r\n");
  });

  it("reports registration, roaming, signal and +CREG URCs", async () => {
    const { at, modem } = await start({ echo: false, registered: 5, signal: 25 });
    assert.equal(await at.command("AT+CREG?"), "\r\n+CREG: 0,5\r\n\r\nOK\r\n");
    await at.command("AT+CREG=2");
    assert.match(await at.command("AT+CREG?"), /\+CREG: 2,5,"[0-9A-F]{4}","[0-9A-F]{4}"/);
    await at.command("AT+CREG=1");
    modem.setRegistered(3);
    await at.waitFor(/\+CREG: 3\r\n/);
    assert.match(await at.command("AT+COPS?"), /\+COPS: 0\r\n/);
    modem.setSignal(7);
    assert.match(await at.command("AT+CSQ"), /\+CSQ: 7,99/);
  });

  it("handles the PIN: SIM PIN, wrong PIN, right PIN, then registration", async () => {
    const { at } = await start({ echo: false, pinRequired: true, pin: "4321" });
    await at.command("AT+CMEE=1");
    assert.match(await at.command("AT+CPIN?"), /\+CPIN: SIM PIN\r\n/);
    assert.equal(await at.command("AT+CIMI"), "\r\n+CME ERROR: 11\r\n");
    assert.equal(await at.command("AT+CMGL=4"), "\r\n+CMS ERROR: 311\r\n");
    assert.match(await at.command("AT+CREG?"), /\+CREG: 0,0/);
    assert.equal(await at.command('AT+CPIN="1111"'), "\r\n+CME ERROR: 16\r\n");
    assert.equal(await at.command('AT+CPIN="4321"'), "\r\nOK\r\n");
    assert.match(await at.command("AT+CPIN?"), /\+CPIN: READY\r\n/);
    assert.match(await at.command("AT+CREG?"), /\+CREG: 0,1/);
  });

  it("answers USSD later as a +CUSD URC, in UCS2 hex after AT+CSCS=\"UCS2\"", async () => {
    const reply = "Vash nomer 79161234567";
    const { at } = await start({ echo: false, ussdNumberReply: reply, ussdDelayMs: 1 });
    assert.equal(await at.command('AT+CUSD=1,"*111*0887#",15'), "\r\nOK\r\n");
    await at.waitFor(/\+CUSD: .*\r\n/);
    assert.equal(at.take(), `\r\n+CUSD: 0,"${reply}",15\r\n`);
    await at.command('AT+CSCS="UCS2"');
    await at.command('AT+CUSD=1,"002A0031003100310023",15');
    await at.waitFor(/\+CUSD: .*\r\n/);
    const hex = /\+CUSD: 0,"([0-9A-F]+)",15/.exec(at.take())?.[1] ?? "";
    assert.equal(Buffer.from(hex, "hex").swap16().toString("utf16le"), reply);
  });

  it("switches the radio with AT+CFUN: off, then searching, then registered", async () => {
    const { at } = await start({ echo: false, radioOnDelayMs: 5 });
    await at.command("AT+CREG=1");
    await at.command("AT+CFUN=0");
    assert.match(at.take() + (await at.command("AT+CREG?")), /\+CREG: 1,0/);
    assert.match(await at.command("AT+CSQ"), /\+CSQ: 99,99/);
    assert.match(await at.command("AT+CFUN?"), /\+CFUN: 0/);
    await at.command("AT+CFUN=1");
    await at.waitFor(/\+CREG: 1\r\n/);
    const urcs = at.take();
    assert.ok(urcs.indexOf("+CREG: 2") < urcs.indexOf("+CREG: 1"), `searching comes first: ${JSON.stringify(urcs)}`);
    assert.match(await at.command("AT+CREG?"), /\+CREG: 1,1/);
  });
});

describe("SMS in PDU mode", () => {
  it("stores an incoming SMS, signals +CMTI, reads it with +CMGR and lists it with +CMGL", async () => {
    const { at, modem } = await start({ echo: false });
    const [slot] = modem.inject({ sender: "79161112233", text: "Your code is 4821" });
    assert.equal(slot, 1);
    await at.waitFor(/\+CMTI: "SM",1\r\n/);
    assert.equal(at.take(), '\r\n+CMTI: "SM",1\r\n');
    const read = await at.command("AT+CMGR=1");
    const match = /^\r\n\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n\r\nOK\r\n$/.exec(read);
    assert.ok(match, JSON.stringify(read));
    const pdu = match[2] ?? "";
    assert.equal(Number(match[1]), pdu.length / 2 - 8, "length excludes the SMSC info");
    assert.equal(decodeDeliver(pdu).text, "Your code is 4821");
    assert.match(await at.command("AT+CMGR=1"), /\+CMGR: 1,,/, "read once, now REC READ");
    modem.inject({ sender: "Telegram", text: "Код 1234 🔥👍" });
    const list = await at.command("AT+CMGL=4");
    const entries = [...list.matchAll(/\+CMGL: (\d+),(\d),,(\d+)\r\n([0-9A-F]+)/g)];
    assert.deepEqual(entries.map((entry) => [entry[1], entry[2]]), [["1", "1"], ["2", "0"]]);
    assert.equal(decodeDeliver(entries[1]?.[4] ?? "").text, "Код 1234 🔥👍");
    assert.equal((await at.command("AT+CMGL=0")).includes("+CMGL:"), false, "listing marked everything read");
    assert.equal(await at.command("AT+CMGR=5"), "\r\nOK\r\n", "an empty slot has no message");
  });

  it("deletes with +CMGD (index and flags) and reports use with +CPMS", async () => {
    const { at, modem } = await start({ echo: false, storageSize: 10 });
    for (let i = 0; i < 4; i++) modem.inject({ sender: "1", text: `m${i}`, lostCmti: true });
    assert.equal(await at.command('AT+CPMS="SM","SM","SM"'), "\r\n+CPMS: 4,10,4,10,4,10\r\n\r\nOK\r\n");
    await at.command("AT+CMGD=2");
    assert.equal(await at.command("AT+CPMS?"), '\r\n+CPMS: "SM",3,10,"SM",3,10,"SM",3,10\r\n\r\nOK\r\n');
    await at.command("AT+CMGR=1");
    await at.command("AT+CMGD=1,1");
    assert.deepEqual(modem.storage().map((slot) => slot.index), [3, 4], "flag 1 deletes read messages only");
    await at.command("AT+CMGD=1,4");
    assert.equal(modem.storage().length, 0);
    assert.equal(modem.counters.deleted, 4);
    assert.equal(modem.counters.byCommand["+CMGD"], 3);
  });

  it("delivers concatenated parts in the given order, dropping some", async () => {
    const { at, modem } = await start({ echo: false });
    const slots = modem.inject({ sender: "79161112233", text: "x".repeat(400), ref: 42, order: [3, 1, 2], drop: [2] });
    assert.deepEqual(slots, [1, 2]);
    await at.waitFor(/\+CMTI: "SM",2\r\n/);
    const seqs = modem.storage().map((slot) => decodeDeliver(slot.pdu).udh);
    assert.deepEqual(seqs, [
      { ref: 42, refBits: 8, total: 3, seq: 3 },
      { ref: 42, refBits: 8, total: 3, seq: 1 },
    ]);
  });

  it("stores without +CMTI when the indication is lost", async () => {
    const { at, modem } = await start({ echo: false });
    modem.inject({ sender: "1", text: "silent", lostCmti: true });
    modem.inject({ sender: "1", text: "loud" });
    await at.waitFor(/\+CMTI/);
    assert.equal(at.take(), '\r\n+CMTI: "SM",2\r\n');
    assert.equal(modem.storage().length, 2);
  });

  it("routes with +CNMI mt=2 as +CMT without storing; mt=0 stores silently; mode 0 buffers", async () => {
    const { at, modem } = await start({ echo: false });
    await at.command("AT+CNMI=2,2,0,0,0");
    assert.deepEqual(modem.inject({ sender: "1", text: "direct" }), []);
    await at.waitFor(/\+CMT: ,\d+\r\n[0-9A-F]+\r\n/);
    const cmt = /\+CMT: ,(\d+)\r\n([0-9A-F]+)\r\n/.exec(at.take());
    assert.equal(decodeDeliver(cmt?.[2] ?? "").text, "direct");
    assert.equal(modem.storage().length, 0, "mt=2 does not store");

    await at.command("AT+CNMI=2,0,0,0,0");
    modem.inject({ sender: "1", text: "quiet" });
    await at.command("AT+CNMI=0,1,0,0,0");
    modem.inject({ sender: "1", text: "buffered" });
    assert.equal(at.take(), "", "no indication yet");
    assert.equal(modem.storage().length, 2);
    const reply = await at.commandThen("AT+CNMI=2,1,0,0,0", /\+CMTI: "SM",2\r\n/);
    assert.doesNotMatch(reply, /\+CMTI: "SM",1/, "mt=0 message was never indicated");
  });

  it("refuses SMS when storage is full, signals it, and takes the waiting part once a slot frees", async () => {
    const { at, modem } = await start({ echo: false, storageSize: 2 });
    modem.inject({ sender: "1", text: "a", lostCmti: true });
    modem.inject({ sender: "1", text: "b", lostCmti: true });
    assert.deepEqual(modem.inject({ sender: "1", text: "c" }), []);
    await at.waitFor(/\^SMMEMFULL: "SM"\r\n/);
    assert.equal(modem.pendingAtNetwork(), 1);
    assert.equal(modem.counters.rejectedFull, 1);
    const reply = await at.commandThen("AT+CMGD=1", /\+CMTI: "SM",1\r\n/);
    assert.ok(reply.indexOf("OK") < reply.indexOf("+CMTI"), "the indication follows the reply");
    assert.equal(decodeDeliver(modem.sim.get(1)?.pdu ?? "").text, "c");

    modem.setStorageFull(true);
    await at.command("AT+CMGD=2");
    assert.deepEqual(modem.inject({ sender: "1", text: "d" }), [], "forced full refuses with a free slot");
    assert.equal(modem.pendingAtNetwork(), 1);
    modem.setStorageFull(false);
    assert.equal(modem.pendingAtNetwork(), 0);
  });

  it("keeps messages at the network while unregistered", async () => {
    const { modem } = await start({ echo: false, registered: 0 });
    assert.deepEqual(modem.inject({ sender: "1", text: "later" }), []);
    assert.equal(modem.storage().length, 0);
    modem.setRegistered(1);
    assert.equal(modem.storage().length, 1);
  });
});

describe("SMS in text mode", () => {
  it('lists with AT+CMGL="ALL" and reads with +CMGR, UCS2 when AT+CSCS="UCS2"', async () => {
    const { at, modem } = await start({ echo: false });
    modem.inject({ sender: "79161112233", text: "Code 77", timestamp: new Date("2024-05-01T09:34:56Z"), utcOffsetMinutes: 180, lostCmti: true });
    await at.command("AT+CMGF=1");
    assert.equal(
      await at.command('AT+CMGL="ALL"'),
      '\r\n+CMGL: 1,"REC UNREAD","+79161112233",,"24/05/01,12:34:56+12"\r\nCode 77\r\n\r\nOK\r\n',
    );
    assert.match(await at.command("AT+CMGR=1"), /^\r\n\+CMGR: "REC READ","\+79161112233",,"24\/05\/01,12:34:56\+12"\r\nCode 77\r\n/);
    assert.equal(await at.command("AT+CMGL=4"), "\r\nERROR\r\n", "text mode wants a status string");
    await at.command('AT+CSCS="UCS2"');
    assert.match(await at.command("AT+CMGR=1"), /\r\n0043006F00640065002000370037\r\n/);
  });
});
