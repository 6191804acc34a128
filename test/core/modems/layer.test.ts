import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { emulatedIdentity } from "../../../core/modems/emulated.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { pathOf, startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

describe("modem layer", () => {
  it("runs 16 modems at once: all ready with identity and number, each SMS tied to its SIM", async (t) => {
    const h = await startHarness({ emulator: { count: 16 } });
    t.after(() => h.dispose());
    const list = h.layer.list();
    assert.equal(list.length, 16);
    assert.deepEqual(new Set(list.map((m) => m.state)), new Set(["ready"]));
    assert.equal(new Set(list.map((m) => m.imei)).size, 16);
    assert.equal(h.layer.numbers.list().length, 16);
    for (let n = 1; n <= 16; n++) {
      const id = emulatedIdentity(n, { cnumEvery: 2, pathPrefix: "/emu/by-path/" });
      const info = h.info(id.path);
      assert.equal(info?.iccid, id.iccid);
      assert.equal(info?.msisdn, id.msisdn, `number of modem ${n} (${id.cnum ? "CNUM" : "USSD"})`);
      assert.equal(info?.country, "russia");
      assert.ok(["mts", "megafon", "beeline", "tele2"].includes(info?.operator ?? ""));
      assert.equal(h.layer.get(id.imei)?.port, id.path);
      assert.equal(h.layer.numbers.byMsisdn(id.msisdn)?.iccid, id.iccid);
    }
    for (const modem of h.modems) modem.inject({ sender: "79001234567", text: `for ${pathOf(h, modem)}` });
    await waitFor(() => h.received.length === 16, "16 messages");
    for (const message of h.received) {
      const info = h.layer.list().find((m) => m.iccid === message.iccid);
      assert.equal(message.text, `for ${info?.port}`);
      assert.equal(message.msisdn, info?.msisdn);
    }
  });

  it("a hung modem recovers while the others keep receiving", async (t) => {
    const h = await startHarness({ emulator: { count: 3 }, pingSeconds: 1, commandTimeoutSeconds: 0.5, maxBackoffSeconds: 1 });
    t.after(() => h.dispose());
    const [sick, a, b] = h.modems;
    assert.ok(sick && a && b);
    const sickPath = pathOf(h, sick);
    sick.hang();
    await waitFor(() => h.info(sickPath)?.state === "failed", "the hung modem marked failed");
    a.inject({ sender: "79001111111", text: "to a" });
    b.inject({ sender: "79002222222", text: "to b" });
    await waitFor(() => h.received.length === 2, "the healthy modems' SMS");
    assert.notEqual(h.info(sickPath)?.state, "ready");
    sick.unhang();
    await waitFor(() => h.info(sickPath)?.state === "ready", "the hung modem back");
    assert.ok((h.info(sickPath)?.reconnects ?? 0) >= 1);
    sick.inject({ sender: "79003333333", text: "to the recovered one" });
    await waitFor(() => h.received.length === 3, "the recovered modem's SMS");
    const sickStates = h.states.filter((s) => s.port === sickPath).map((s) => s.state);
    assert.ok(sickStates.includes("failed") && sickStates.lastIndexOf("ready") > sickStates.indexOf("failed"));
  });

  it("one sick modem never delays the others: their SMS are persisted while its read is still outstanding", async (t) => {
    // no command times out during the test: only the test ends the sick modem's stall
    const h = await startHarness({ emulator: { count: 3 }, commandTimeoutSeconds: 600 });
    t.after(() => h.dispose());
    const [sick, a, b] = h.modems;
    assert.ok(sick && a && b);
    const sickPath = pathOf(h, sick);
    let stalled = false;
    sick.on("command", (line: string) => {
      if (line.startsWith("AT+CMGR") && !stalled) {
        stalled = true;
        sick.hang(); // mid-read: the reply never comes
      }
    });
    sick.inject({ sender: "79001111110", text: "to the sick one" });
    await waitFor(() => stalled, "the sick modem's read outstanding");
    a.inject({ sender: "79001111111", text: "to a" });
    b.inject({ sender: "79002222222", text: "to b" });
    await waitFor(() => h.received.length === 2, "the healthy modems' SMS");
    assert.deepEqual(h.received.map((m) => m.text).sort(), ["to a", "to b"]);
    assert.equal(h.info(sickPath)?.state, "ready", "the sick modem's read has not timed out: still outstanding");
    // release: the port goes away and comes back; the message is still on the SIM and is taken then
    sick.unplug();
    sick.replug();
    await waitFor(() => h.received.length === 3, "the sick modem's SMS after its recovery");
    assert.equal(h.received[2]?.text, "to the sick one");
  });

  it("unplug/replug: absent, then the same SIM recognised by ICCID, also in another modem on another port", async (t) => {
    const prefix = "/emu/replug/";
    const sim = { imsi: "250020000000777", iccid: "89701990000000007771" };
    const first = new EmulatedModem({ imei: "860000000000777", ...sim, msisdn: "79000000777", cnum: false, ussdNumberReply: "Vash nomer +79000000777", operator: "MegaFon" });
    emulatorRegistry.register(`${prefix}usb-0:1.1:1.2`, first);
    const h = await startHarness({ ports: [`${prefix}*`], absentSeconds: 0 }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    const path1 = `${prefix}usb-0:1.1:1.2`;
    assert.equal(h.info(path1)?.msisdn, "79000000777", "learned by USSD");

    first.unplug();
    await waitFor(() => h.info(path1)?.state === "absent", "absent after unplug");
    first.replug();
    await h.layer.rescan();
    await waitFor(() => h.info(path1)?.state === "ready", "ready after replug");
    assert.equal(h.info(path1)?.iccid, sim.iccid);

    // the SIM moves to another modem (no CNUM, no USSD answer) on another hub port
    first.unplug();
    await waitFor(() => h.info(path1)?.state === "absent", "absent");
    emulatorRegistry.unregister(path1);
    const removed: string[] = [];
    h.bus.on("modem.removed", "test", ({ port }) => {
      removed.push(port);
    });
    const second = new EmulatedModem({ imei: "860000000000888", ...sim, cnum: false, operator: "MegaFon" });
    const path2 = `${prefix}usb-0:1.4:1.2`;
    emulatorRegistry.register(path2, second);
    await h.layer.rescan();
    await waitFor(() => h.info(path2)?.state === "ready", "the other modem ready");
    assert.equal(h.info(path2)?.msisdn, "79000000777", "number known from the sims store by ICCID");
    assert.deepEqual(removed, [path1]);
    assert.equal(h.layer.get("860000000000777"), undefined);
  });

  it("discovery: finds the AT interface among a modem's ports, leaves a second AT interface and disabled ports alone", async (t) => {
    const prefix = "/emu/discover/";
    const modem = new EmulatedModem({ imei: "860000000000555", imsi: "250990000000555", iccid: "89701990000000005556", msisdn: "79000000555", cnum: true });
    const silent = new EmulatedModem({ imei: "000", imsi: "000", iccid: "000" });
    silent.hang(); // a diagnostics/PPP interface: opens, never answers AT
    emulatorRegistry.register(`${prefix}usb-0:1.1:1.0`, silent);
    emulatorRegistry.register(`${prefix}usb-0:1.1:1.2`, modem);
    emulatorRegistry.register(`${prefix}usb-0:1.1:1.3`, modem); // same modem, second AT interface
    const other = new EmulatedModem({ imei: "860000000000556", imsi: "250990000000556", iccid: "89701990000000005564", cnum: true, msisdn: "79000000556" });
    emulatorRegistry.register(`${prefix}usb-0:1.2:1.2`, other);
    const h = await startHarness(
      { ports: [`${prefix}*`], overrides: { [`${prefix}usb-0:1.2:*`]: { disabled: true } } },
      { layer: { portClass: EmulatedSerialPort } },
    );
    t.after(() => h.dispose());
    const list = h.layer.list();
    assert.deepEqual(
      list.map((m) => [m.port, m.state]),
      [
        [`${prefix}usb-0:1.1:1.2`, "ready"],
        [`${prefix}usb-0:1.2:1.2`, "disabled"],
      ],
    );
    // operator commands take a modem out of service and back
    await h.layer.command("860000000000555", "disable");
    assert.equal(h.info(`${prefix}usb-0:1.1:1.2`)?.state, "disabled");
    await h.layer.command("860000000000555", "enable");
    assert.equal(h.info(`${prefix}usb-0:1.1:1.2`)?.state, "ready");
  });

  it("a SIM asking for a PIN: sim-error without one, ready with the configured PIN", async (t) => {
    const prefix = "/emu/pin/";
    emulatorRegistry.register(`${prefix}usb-0:1.1:1.2`, new EmulatedModem({ imei: "860000000000444", imsi: "250200000000444", iccid: "89701990000000004443", cnum: true, msisdn: "79000000444", pinRequired: true, pin: "4321" }));
    emulatorRegistry.register(`${prefix}usb-0:1.2:1.2`, new EmulatedModem({ imei: "860000000000445", imsi: "250200000000445", iccid: "89701990000000004450", cnum: true, msisdn: "79000000445", pinRequired: true, pin: "1111" }));
    const h = await startHarness(
      { ports: [`${prefix}*`], overrides: { [`${prefix}usb-0:1.1:1.2`]: { pin: "4321" } }, operators: { "89701990000000004443": { operator: "sber" } } },
      { layer: { portClass: EmulatedSerialPort } },
    );
    t.after(() => h.dispose());
    assert.equal(h.info(`${prefix}usb-0:1.1:1.2`)?.state, "ready");
    assert.equal(h.info(`${prefix}usb-0:1.1:1.2`)?.operator, "sber", "per-SIM operator override");
    assert.equal(h.info(`${prefix}usb-0:1.1:1.2`)?.country, "russia");
    assert.equal(h.info(`${prefix}usb-0:1.2:1.2`)?.state, "sim-error");
    assert.match(h.info(`${prefix}usb-0:1.2:1.2`)?.reason ?? "", /PIN/);
  });

  it("not registered: the modem is not-registered and offers no number until it registers", async (t) => {
    const h = await startHarness({ emulator: { count: 1 }, pingSeconds: 1 });
    t.after(() => h.dispose());
    const [modem] = h.modems;
    const path = pathOf(h, modem!);
    modem?.setRegistered(0);
    await waitFor(() => h.info(path)?.state === "not-registered", "not-registered");
    assert.equal(h.layer.numbers.list().length, 0);
    modem?.setRegistered(1);
    await waitFor(() => h.info(path)?.state === "ready", "ready again");
    assert.equal(h.layer.numbers.list().length, 1);
  });
});
