import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBus } from "../../../core/bus.ts";
import { silentLogger, type Logger } from "../../../core/log.ts";
import { createModemLayer, type ModemLayerImpl, type ModemLayerOptions } from "../../../core/modems/index.ts";
import type { ModemsConfigInput } from "../../../core/modems/config.ts";
import type { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { Store } from "../../../core/store/store.ts";
import type { ModemInfo, SmsMessage } from "../../../core/types.ts";

/** Whether socat is on PATH (the pty suites need it; `.ci/run` installs it). */
export function hasSocat(): boolean {
  try {
    execFileSync("socat", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The first command line starting with `prefix` gets its reply `ms` late (then `then` runs); every other line at once. */
export function slowOnce(modem: EmulatedModem, prefix: string, ms: number, then?: () => void): void {
  const onCommand = (line: string) => {
    if (!line.startsWith(prefix)) return modem.slow(0);
    modem.off("command", onCommand);
    modem.slow(ms);
    modem.once("command", () => modem.slow(0));
    then?.();
  };
  modem.on("command", onCommand);
}

/** Polls `check` every 10 ms; a hang guard, not a timed assertion. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Harness {
  dir: string;
  store: Store;
  bus: EventBus;
  layer: ModemLayerImpl;
  received: SmsMessage[];
  states: { port: string; state: string }[];
  modems: EmulatedModem[];
  info(path: string): ModemInfo | undefined;
  /** Stops the layer and closes the store (the directory stays for a restart). */
  stop(): Promise<void>;
  /** stop() and remove the directory. */
  dispose(): Promise<void>;
}

export const FAST: ModemsConfigInput = { sweepSeconds: 3600, pingSeconds: 3600, rescanSeconds: 3600, commandTimeoutSeconds: 2 };

/** A store in a temp dir (or `dir`), a bus that records, and a layer on `count` emulated modems. */
export async function startHarness(config: ModemsConfigInput, options: { dir?: string; start?: boolean; layer?: ModemLayerOptions; log?: Logger } = {}): Promise<Harness> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "simhive-modems-")));
  const log = options.log ?? silentLogger();
  const store = await Store.open(dir, log);
  const bus = new EventBus(log);
  const received: SmsMessage[] = [];
  const states: { port: string; state: string }[] = [];
  bus.on("sms.received", "test", ({ message }) => {
    received.push(message);
  });
  bus.on("modem.state", "test", ({ port, state }) => {
    states.push({ port, state });
  });
  const layer = createModemLayer({ ...FAST, ...config }, { log, bus, store }, { trigger: join(dir, "rescan"), ...options.layer });
  if (options.start !== false) await layer.start();
  let stopped = false;
  const harness: Harness = {
    dir,
    store,
    bus,
    layer,
    received,
    states,
    modems: [...layer.emulated.values()],
    info: (path) => layer.list().find((m) => m.port === path),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await layer.stop();
      await store.close();
    },
    dispose: async () => {
      await harness.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export function pathOf(harness: Harness, modem: EmulatedModem): string {
  for (const [path, m] of harness.layer.emulated) if (m === modem) return path;
  throw new Error("not an emulated modem of this layer");
}
