import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { expandGlob } from "../../../core/modems/discovery.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

let serial = 0;
function modemAt(path: string): EmulatedModem {
  serial++;
  const n = String(serial).padStart(3, "0");
  const modem = new EmulatedModem({ imei: `860000000001${n}`, imsi: `250010000001${n}`, iccid: `8970199000000001${n}0`, msisdn: `79000001${n}`, cnum: true });
  emulatorRegistry.register(path, modem);
  return modem;
}

/** Lists only what the filesystem has: the file is the /dev/serial/by-path link, the emulated modem the device behind it. */
async function filesOnly(patterns: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pattern of patterns) found.push(...(await expandGlob(pattern)));
  return found.sort();
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "simhive-hotplug-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("hot-plug", () => {
  it("a link appearing in the watched port directory is picked up without waiting for the periodic re-scan", async (t) => {
    const dev = await tempDir(t);
    const path = join(dev, "usb-0:1.1:1.2");
    modemAt(path);
    const h = await startHarness({ ports: [join(dev, "*")] }, { layer: { portClass: EmulatedSerialPort, glob: filesOnly } });
    t.after(() => h.dispose());
    assert.equal(h.layer.list().length, 0);
    await writeFile(path, "");
    await waitFor(() => h.info(path)?.state === "ready", "the plugged modem ready");
  });

  it("every write to the trigger file re-scans (a second udev write is only a change event), and the file is consumed", async (t) => {
    const prefix = "/emu/trigger/";
    const h = await startHarness({ ports: [`${prefix}*`] }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    const trigger = join(h.dir, "rescan");
    modemAt(`${prefix}usb-0:1.1:1.2`);
    await writeFile(trigger, "ttyUSB0\n");
    await waitFor(() => h.info(`${prefix}usb-0:1.1:1.2`)?.state === "ready", "the first modem");
    await waitFor(() => !existsSync(trigger), "the trigger consumed");
    modemAt(`${prefix}usb-0:1.2:1.2`);
    await writeFile(trigger, "ttyUSB4\n");
    await waitFor(() => h.info(`${prefix}usb-0:1.2:1.2`)?.state === "ready", "the second modem");
    await waitFor(() => !existsSync(trigger), "the trigger consumed again");
  });

  it("a trigger file left over (written again: only change events) still re-scans", async (t) => {
    const prefix = "/emu/trigger-left/";
    const dir = await tempDir(t);
    const trigger = join(dir, "rescan");
    await writeFile(trigger, "left from before the hub started\n");
    const h = await startHarness({ ports: [`${prefix}*`] }, { layer: { portClass: EmulatedSerialPort, trigger } });
    t.after(() => h.dispose());
    modemAt(`${prefix}usb-0:1.1:1.2`);
    await writeFile(trigger, "ttyUSB0\n");
    await waitFor(() => h.info(`${prefix}usb-0:1.1:1.2`)?.state === "ready", "the modem");
  });

  it("the watcher moves to the port directory once it appears, and back to its parent when it goes", async (t) => {
    const dev = await tempDir(t);
    const byPath = join(dev, "serial", "by-path");
    const h = await startHarness({ ports: [join(byPath, "*")] }, { layer: { portClass: EmulatedSerialPort, glob: filesOnly } });
    t.after(() => h.dispose());
    // udev creates the directory with the first serial device
    const first = join(byPath, "usb-0:1.1:1.2");
    modemAt(first);
    await mkdir(byPath, { recursive: true });
    await writeFile(first, "");
    await waitFor(() => h.info(first)?.state === "ready", "the first modem");
    // a second modem later: its link appears inside the new directory
    const second = join(byPath, "usb-0:1.2:1.2");
    modemAt(second);
    await writeFile(second, "");
    await waitFor(() => h.info(second)?.state === "ready", "the second modem");
    // the last serial device goes: udev removes the directory; then a modem comes again
    await rm(join(dev, "serial"), { recursive: true });
    const third = join(byPath, "usb-0:1.3:1.2");
    modemAt(third);
    await mkdir(byPath, { recursive: true });
    await writeFile(third, "");
    await waitFor(() => h.info(third)?.state === "ready", "the third modem");
  });

  it("the periodic re-scan finds a port nothing announced", async (t) => {
    const prefix = "/emu/periodic/";
    const h = await startHarness({ ports: [`${prefix}*`], rescanSeconds: 1 }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    modemAt(`${prefix}usb-0:1.1:1.2`);
    await waitFor(() => h.info(`${prefix}usb-0:1.1:1.2`)?.state === "ready", "the modem found by the periodic re-scan");
  });
});
