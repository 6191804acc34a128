import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { startHarness, waitFor, type Harness } from "./harness.ts";

after(() => emulatorRegistry.clear());

/** Pings every second; commands time out after half a second. */
const SICK = { pingSeconds: 1, commandTimeoutSeconds: 0.5 };

let serial = 0;
function register(prefix: string): { path: string; modem: EmulatedModem; lines: string[] } {
  serial++;
  const n = String(serial).padStart(3, "0");
  const path = `${prefix}usb-0:1.3:1.2`;
  const modem = new EmulatedModem({ imei: `860000000002${n}`, imsi: `250010000002${n}`, iccid: `8970199000000002${n}0`, msisdn: `79000002${n}`, cnum: true });
  const lines: string[] = [];
  modem.on("command", (line: string) => lines.push(line));
  emulatorRegistry.register(path, modem);
  return { path, modem, lines };
}

/** Runs `action` as the recovery ladder starts on `path` (the failed health ping), before its first step. */
function onLadderStart(h: Harness, path: string, action: () => void): Promise<true> {
  let started = false;
  h.bus.on("modem.state", `ladder:${path}`, ({ port, state, reason }) => {
    if (started || port !== path || state !== "failed" || !/recovering/.test(reason ?? "")) return;
    started = true;
    action();
  });
  return waitFor(() => started, "the recovery ladder to start");
}

/** A modem that ignores everything until the host writes `trigger` (which it then executes). */
function hungUntil(modem: EmulatedModem, trigger: string): void {
  modem.hang();
  const receive = modem.receive.bind(modem);
  modem.receive = (chunk: Buffer) => {
    if (chunk.toString("latin1").includes(trigger)) {
      modem.receive = receive;
      modem.unhang();
    }
    receive(chunk);
  };
}

const steps = (lines: Record<string, unknown>[], path: string) => lines.filter((l) => l.port === path && l.msg === "modem answers again").map((l) => l.step);

describe("recovery ladder", () => {
  it("step 1, flush and AT: a modem that answers again is re-initialised without touching the radio", async (t) => {
    const prefix = "/emu/ladder-flush/";
    const { path, modem, lines } = register(prefix);
    const capture = capturingLogger();
    const h = await startHarness({ ports: [`${prefix}*`], ...SICK }, { log: capture.log, layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    const ladder = onLadderStart(h, path, () => modem.unhang());
    modem.hang(); // a stall: the health ping gets no answer
    await ladder;
    await waitFor(() => steps(capture.lines, path).length > 0 && h.info(path)?.state === "ready", "ready again");
    assert.deepEqual(steps(capture.lines, path), ["flush"]);
    assert.ok(!lines.some((line) => line.startsWith("AT+CFUN")), "the radio was not switched off");
  });

  it("step 2, radio off/on: a modem that answers only after AT+CFUN is re-initialised on the same port", async (t) => {
    const prefix = "/emu/ladder-cfun/";
    const { path, modem, lines } = register(prefix);
    const capture = capturingLogger();
    const h = await startHarness({ ports: [`${prefix}*`], ...SICK }, { log: capture.log, layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    let portOpens = 0;
    modem.on("open", () => portOpens++);
    hungUntil(modem, "AT+CFUN=0");
    await waitFor(() => steps(capture.lines, path).length > 0 && h.info(path)?.state === "ready", "ready again");
    assert.deepEqual(steps(capture.lines, path), ["cfun"]);
    assert.ok(lines.includes("AT+CFUN=0") && lines.includes("AT+CFUN=1"));
    assert.equal(portOpens, 1, "one reopen: the full init after the modem answered, none before");
  });

  it("step 4, USB power cycle: uhubctl runs for the modem's hub port when nothing else helps", async (t) => {
    const prefix = "/emu/ladder-uhubctl/";
    const { path, modem } = register(prefix);
    const dir = await mkdtemp(join(tmpdir(), "simhive-uhubctl-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const calls = join(dir, "calls");
    const script = join(dir, "uhubctl");
    await writeFile(script, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\n`);
    await chmod(script, 0o755);
    const h = await startHarness(
      { ports: [`${prefix}*`], ...SICK, maxBackoffSeconds: 60, overrides: { [path]: { uhubctl: { hub: "1-1", port: 3 } } }, uhubctl: { command: script } },
      { layer: { portClass: EmulatedSerialPort } },
    );
    t.after(() => h.dispose());
    modem.hang(); // stays hung through flush, radio off/on and a reopen
    await waitFor(() => existsSync(calls), "uhubctl called", 30_000);
    // the hub port's power goes off and on: the modem boots again
    modem.unplug();
    modem.replug();
    await waitFor(() => h.info(path)?.state === "ready", "ready after the power cycle", 30_000);
    assert.equal((await readFile(calls, "utf8")).trim(), "-l 1-1 -p 3 -a cycle -d 3");
    assert.ok((h.info(path)?.reconnects ?? 0) >= 1);
  });

  it("retries back off doubling from 1 s up to maxBackoffSeconds", async (t) => {
    const prefix = "/emu/ladder-backoff/";
    const { path, modem } = register(prefix);
    const capture = capturingLogger();
    const h = await startHarness({ ports: [`${prefix}*`], maxBackoffSeconds: 2 }, { log: capture.log, layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    modem.unplug();
    const delays = () => capture.lines.filter((l) => l.port === path && typeof l.retryInMs === "number").map((l) => l.retryInMs);
    await waitFor(() => delays().length >= 4, "four retries scheduled");
    assert.deepEqual(delays().slice(0, 4), [1000, 2000, 2000, 2000]);
  });

  it("the sweep after a reconnect takes what the SIM stored while the modem did not answer", async (t) => {
    const prefix = "/emu/ladder-sweep/";
    const { path, modem } = register(prefix);
    const h = await startHarness({ ports: [`${prefix}*`], ...SICK }, { layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    const ladder = onLadderStart(h, path, () => modem.unhang());
    modem.hang();
    modem.inject({ sender: "79001112233", text: "arrived while hung" }); // stored; its +CMTI is lost
    await ladder;
    await waitFor(() => h.received.length === 1, "the SMS stored meanwhile");
    assert.equal(h.received[0]?.text, "arrived while hung");
    assert.equal(modem.storage().length, 0);
  });
});
