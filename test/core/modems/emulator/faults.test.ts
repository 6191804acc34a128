import assert from "node:assert/strict";
import { once } from "node:events";
import { afterEach, beforeEach, describe, it } from "node:test";
import { EmulatedModem, RawSession, createBench, modemOptions } from "./helpers.ts";

const PATH = "/emu/by-path/usb-0:1.2:1.2";
let bench: ReturnType<typeof createBench>;
let sessions: RawSession[] = [];

async function open(): Promise<RawSession> {
  const session = await RawSession.open(bench.Port, PATH);
  sessions.push(session);
  return session;
}

beforeEach(() => {
  bench = createBench();
  sessions = [];
});
afterEach(async () => {
  for (const session of sessions) await session.close();
  bench.registry.clear();
});

function openError(): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    new bench.Port({ path: PATH, baudRate: 115200 }, (error) => (error ? resolve(error) : reject(new Error("opened"))));
  });
}

describe("registry and binding", () => {
  it("lists registered modems and fails to open unknown paths like a missing device", async () => {
    const modem = new EmulatedModem(modemOptions());
    bench.registry.register(PATH, modem);
    const listed = await bench.Port.list();
    assert.deepEqual(listed.map((port) => [port.path, port.serialNumber]), [[PATH, modem.options.imei]]);
    const error = await new Promise<Error & { code?: string }>((resolve) => {
      new bench.Port({ path: "/emu/by-path/nothing", baudRate: 115200 }, (err) => resolve(err as Error));
    });
    assert.equal(error.code, "ENOENT");
    assert.match(error.message, /No such file or directory/);
  });

  it("refuses a second open of the same port (EBUSY)", async () => {
    bench.registry.register(PATH, new EmulatedModem(modemOptions()));
    await open();
    assert.equal((await openError()).code, "EBUSY");
  });
});

describe("faults", () => {
  it("hang(): no echo, no reply, no URC until unhang()", async () => {
    const modem = new EmulatedModem(modemOptions());
    bench.registry.register(PATH, modem);
    const at = await open();
    modem.hang();
    at.port.write("AT+CSQ\r");
    modem.inject({ sender: "1", text: "while hung" });
    assert.equal(modem.storage().length, 1, "the SIM still stores what arrives");
    modem.unhang();
    const reply = await at.command("AT");
    assert.equal(reply, "AT\r\r\nOK\r\n", "nothing from the hung period came out");
    assert.equal(modem.isAttached, true, "the port stayed open");
  });

  it("unplug(): the open port closes with a disconnect error, opens fail, replug() brings it back", async () => {
    const modem = new EmulatedModem(modemOptions({ radioOnDelayMs: 1 }));
    bench.registry.register(PATH, modem);
    modem.inject({ sender: "1", text: "kept on the SIM", lostCmti: true });
    const at = await open();
    await at.command("ATE0");
    const closed = once(at.port, "close");
    modem.unplug();
    const [closeError] = (await closed) as [Error & { disconnected?: boolean }];
    assert.equal(closeError?.disconnected, true);
    assert.equal(at.port.isOpen, false);
    assert.equal((await openError()).code, "ENOENT");
    assert.deepEqual(await bench.Port.list(), []);

    modem.replug();
    assert.equal((await bench.Port.list()).length, 1);
    const again = await open();
    assert.match(await again.command("AT"), /^AT\r/, "a power-up restores echo");
    assert.equal(modem.storage().length, 1, "SIM storage survives");
  });

  it("slow(ms): replies still come, in order", async () => {
    const modem = new EmulatedModem(modemOptions({ echo: false, signal: 9 }));
    bench.registry.register(PATH, modem);
    const at = await open();
    modem.slow(20);
    at.port.write("AT+CSQ\rAT+CGSN\r");
    await at.waitFor((text) => (text.match(/OK\r\n/g) ?? []).length === 2);
    assert.equal(at.take(), `\r\n+CSQ: 9,99\r\n\r\nOK\r\n\r\n${modem.options.imei}\r\n\r\nOK\r\n`);
    modem.slow(0);
  });

  it("garbage(): emits noise now; commands still work afterwards", async () => {
    const modem = new EmulatedModem(modemOptions({ echo: false }));
    bench.registry.register(PATH, modem);
    const at = await open();
    modem.garbage("\u00ff\u0001xx");
    await at.waitFor(/xx$/);
    assert.equal(at.take(), "\u00ff\u0001xx");
    modem.garbage();
    await at.waitFor(/\r\n$/);
    assert.ok(at.take().length >= 3);
    assert.equal(await at.command("AT"), "\r\nOK\r\n");
  });
});
