import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry, type EmulatedModemOptions } from "../../../core/modems/emulator/index.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

let serial = 0;
/** A modem at `<prefix>usb-0:1.<n>:1.2` whose command lines are recorded. */
function register(prefix: string, n: number, options: Partial<EmulatedModemOptions> = {}): { path: string; modem: EmulatedModem; lines: string[] } {
  serial++;
  const id = String(serial).padStart(3, "0");
  const path = `${prefix}usb-0:1.${n}:1.2`;
  const modem = new EmulatedModem({ imei: `860000000003${id}`, imsi: `250010000003${id}`, iccid: `8970199000000003${id}0`, operator: "MTS RUS", ...options });
  const lines: string[] = [];
  modem.on("command", (line: string) => lines.push(line));
  emulatorRegistry.register(path, modem);
  return { path, modem, lines };
}

describe("modems config features", () => {
  it("own number from config: modems.numbers by ICCID wins over AT+CNUM; a port's overrides.msisdn wins over both", async (t) => {
    const prefix = "/emu/cfg-numbers/";
    const mapped = register(prefix, 1, { cnum: false }); // neither CNUM nor USSD gives a number
    const stale = register(prefix, 2, { cnum: true, msisdn: "79000000001" }); // CNUM gives a stale number
    const port = register(prefix, 3, { cnum: true, msisdn: "79000000002" });
    const h = await startHarness(
      {
        ports: [`${prefix}*`],
        numbers: { [mapped.modem.options.iccid]: "+79005550001", [stale.modem.options.iccid]: "79005550002", [port.modem.options.iccid]: "79005550003" },
        overrides: { [port.path]: { msisdn: "79005550004" } },
      },
      { layer: { portClass: EmulatedSerialPort } },
    );
    t.after(() => h.dispose());
    assert.equal(h.info(mapped.path)?.msisdn, "79005550001");
    assert.equal(h.info(stale.path)?.msisdn, "79005550002");
    assert.equal(h.info(port.path)?.msisdn, "79005550004");
    assert.deepEqual(h.layer.numbers.list().map((n) => n.msisdn).sort(), ["79005550001", "79005550002", "79005550004"]);
  });

  it("modems.ussd: the configured request and reply pattern are used for the operator", async (t) => {
    const prefix = "/emu/cfg-ussd/";
    const { path, lines } = register(prefix, 1, { cnum: false, ussdNumberReply: "Balans 12345678901 r. Vash nomer 79005556677" });
    const h = await startHarness({ ports: [`${prefix}*`], ussd: { mts: { request: "*999#", pattern: "nomer (\\d{11})" } } }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    await waitFor(() => h.info(path)?.msisdn, "the number learned");
    assert.equal(h.info(path)?.msisdn, "79005556677");
    assert.ok(lines.includes('AT+CUSD=1,"*999#",15'), lines.filter((l) => l.startsWith("AT+CUSD")).join(" "));
  });

  it("a port's baudRate override is used to open it (probe and modem); the others use modems.baudRate", async (t) => {
    const prefix = "/emu/cfg-baud/";
    const slow = register(prefix, 1, { cnum: true, msisdn: "79000000011" });
    const normal = register(prefix, 2, { cnum: true, msisdn: "79000000012" });
    const opened: [string, number][] = [];
    class RecordingPort extends EmulatedSerialPort {
      constructor(options: ConstructorParameters<typeof EmulatedSerialPort>[0], callback?: ConstructorParameters<typeof EmulatedSerialPort>[1]) {
        opened.push([options.path, options.baudRate]);
        super(options, callback);
      }
    }
    const h = await startHarness({ ports: [`${prefix}*`], baudRate: 57600, overrides: { [slow.path]: { baudRate: 9600 } } }, { layer: { portClass: RecordingPort } });
    t.after(() => h.dispose());
    assert.equal(h.info(slow.path)?.state, "ready");
    const bauds = (path: string) => [...new Set(opened.filter(([p]) => p === path).map(([, baud]) => baud))];
    assert.ok(opened.filter(([p]) => p === slow.path).length >= 2, "probe and modem both opened it");
    assert.deepEqual(bauds(slow.path), [9600]);
    assert.deepEqual(bauds(normal.path), [57600]);
  });

  it("probeConcurrency bounds how many ports are probed at once", async (t) => {
    const prefix = "/emu/cfg-probes/";
    let open = 0;
    let most = 0;
    for (let n = 1; n <= 4; n++) {
      const { modem } = register(prefix, n);
      modem.hang(); // never answers: only probed, never managed
      modem.on("open", () => (most = Math.max(most, ++open)));
      modem.on("close", () => open--);
    }
    const h = await startHarness({ ports: [`${prefix}*`], probeConcurrency: 2, commandTimeoutSeconds: 0.5 }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    assert.equal(h.layer.list().length, 0);
    assert.equal(most, 2);
  });

  it("message storage is set explicitly at init (AT+CPMS with modems.storage for all three), before new-message indications", async (t) => {
    const prefix = "/emu/cfg-cpms/";
    const { path, lines } = register(prefix, 1, { cnum: true, msisdn: "79000000021" });
    const h = await startHarness({ ports: [`${prefix}*`], storage: "ME" }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    assert.equal(h.info(path)?.state, "ready");
    const cpms = lines.indexOf('AT+CPMS="ME","ME","ME"');
    assert.ok(cpms >= 0, lines.join(" "));
    assert.ok(cpms < lines.findIndex((l) => l.startsWith("AT+CNMI=")));
  });
});
