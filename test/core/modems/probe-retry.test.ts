import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { pathOf, startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

describe("a port that does not answer the first probe", () => {
  it("is probed again with backoff while it stays listed: a modem still booting at start is managed once it answers", async (t) => {
    const h = await startHarness({ emulator: { count: 2 } }, { start: false, layer: { probeRetry: { firstMs: 100, maxMs: 400 } } });
    t.after(() => h.dispose());
    const [booting] = h.modems;
    booting!.hang(); // firmware still booting when udev creates the link
    await h.layer.start();
    assert.equal(h.layer.list().length, 1, "the booting modem is not managed yet");
    booting!.unhang();
    // no rescan asked for: the backoff re-probe alone finds it
    await waitFor(() => h.info(pathOf(h, booting!))?.state === "ready", "the booted modem ready");
    await waitFor(() => h.layer.numbers.list().length === 2, "its number offered");
  });

  it("is probed again at once on an explicit rescan (SIGHUP), whatever the backoff", async (t) => {
    const h = await startHarness({ emulator: { count: 2 } }, { start: false });
    t.after(() => h.dispose());
    const [booting] = h.modems;
    booting!.hang();
    await h.layer.start();
    assert.equal(h.layer.list().length, 1);
    booting!.unhang();
    await h.layer.rescan();
    assert.equal(h.layer.list().length, 2);
    await waitFor(() => h.info(pathOf(h, booting!))?.state === "ready", "ready");
  });

  it("backs off doubling up to the cap, is left alone after 8 probes, and starts again from the first delay when the port has gone and come back", async (t) => {
    const prefix = "/emu/reprobe/";
    const path = `${prefix}usb-0:1.1:1.0`;
    const silent = new EmulatedModem({ imei: "000", imsi: "000", iccid: "000" });
    silent.hang(); // a diagnostics interface: opens, never answers AT
    emulatorRegistry.register(path, silent);
    const capture = capturingLogger();
    const h = await startHarness({ ports: [`${prefix}*`], commandTimeoutSeconds: 0.2 }, { log: capture.log, layer: { portClass: EmulatedSerialPort, probeRetry: { firstMs: 50, maxMs: 200 } } });
    t.after(() => h.dispose());
    const delays = () => capture.lines.filter((l) => l.port === path && typeof l.reprobeInMs === "number").map((l) => l.reprobeInMs);
    const givenUp = () => capture.lines.filter((l) => l.port === path && l.probes === 8).length;
    await waitFor(() => givenUp() === 1, "eight probes", 60_000);
    assert.deepEqual(delays(), [50, 100, 200, 200, 200, 200, 200]);
    assert.equal(h.layer.list().length, 0);
    await h.layer.rescan(); // asked for: probed once more
    assert.equal(capture.lines.filter((l) => l.port === path && typeof l.probes === "number").length, 2);

    emulatorRegistry.unregister(path);
    await h.layer.rescan(); // the port is no longer listed: its backoff is forgotten
    const before = delays().length;
    emulatorRegistry.register(path, silent);
    await h.layer.rescan();
    await waitFor(() => delays().length >= before + 2, "probes after it came back");
    assert.deepEqual(delays().slice(before, before + 2), [50, 100]);
  });
});
