/**
 * Modem layer benchmark: 64 emulated modems driven through serialport-gsm.
 * Resident memory, idle CPU over 10 s, and a burst of 640 SMS (10 per modem,
 * 10 % of them two-part) from injection to the persisted message (the
 * `sms.received` event, emitted once the synced batch is on disk): once with
 * all 640 injected in the same instant (worst case), once paced at one SMS
 * per modem every PACE_MS (100 ms; a real network delivers one every ~1-3 s).
 *
 *   node --import tsx --expose-gc bench/modems.bench.ts      (MODEMS=64 IDLE_SECONDS=10)
 *   compiled (no tsx in memory): npx tsc --outDir /tmp/simhive-js -p . &&
 *     ln -s "$PWD/node_modules" /tmp/simhive-js/ && cp package.json /tmp/simhive-js/ &&
 *     node --expose-gc /tmp/simhive-js/bench/modems.bench.js
 *
 * Besides the targets it prints what explains them: injectMs (time inside
 * the emulator's inject(), which runs in this process and delays every
 * message of the instant burst), burstCpuMs, atPerSms (AT command lines per
 * SMS: the round trips of the intake), heapUsedMb, the loader and load1 (the
 * machine's load average at the end: figures taken at a load above ~1.5 on
 * two cores say more about the neighbours than about simhive).
 *
 * Two modes, each in its own process (so memory figures do not mix), both
 * run by default and printed side by side; MODE=inprocess or MODE=worker runs one:
 * - inprocess: the emulated modems live in the hub's process and thread
 *   (EmulatedSerialPort), as the figures before the worker mode existed.
 * - worker: the modems live in a worker thread (core/modems/emulator/remote.ts),
 *   so the hub's thread only does the hub's work, as with real modems that
 *   encode PDUs and answer AT commands on their own chips. injectMs is then
 *   the relay (postMessage) on the hub's thread and workerInjectMs the time
 *   inside inject() in the worker. RSS and burstCpuMs still count the worker
 *   (same process); hubBusyMs (the hub thread's event-loop active time during
 *   the burst) is the hub's own share in both modes.
 *
 * Targets: p99 ≤ 100 ms, RSS ≤ 100 MB, idle CPU ≤ 2 % of one core.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EventBus } from "../core/bus.ts";
import { silentLogger } from "../core/log.ts";
import { RemoteEmulator, type EmulatedModem, type InjectOptions } from "../core/modems/emulator/index.ts";
import { createModemLayer, type ModemLayerImpl } from "../core/modems/index.ts";
import { Store } from "../core/store/store.ts";

const MODEMS = Number(process.env.MODEMS ?? 64);
const PER_MODEM = 10;
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 10);
/** The paced run: one SMS per modem every PACE_MS (a real network delivers one every ~1-3 s per modem). */
const PACE_MS = Number(process.env.PACE_MS ?? 100);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

type Mode = "inprocess" | "worker";
const MODES: readonly Mode[] = ["inprocess", "worker"];

/** The emulated modems as the bench drives them, wherever they live. */
interface BenchModems {
  readonly count: number;
  /** Injects into modem `m`: synchronous in-process, relayed (not awaited) to the worker. */
  inject(m: number, options: InjectOptions): void;
  /** Resolves once every relayed injection was answered. */
  settle(): Promise<void>;
  /** AT command lines received so far. */
  commands(): Promise<number>;
  /** SMS parts on the SIMs now. */
  stored(): Promise<number>;
  /** Time the relay to the worker took on this thread so far (worker mode: the batched postMessage). */
  relayMs(): number;
  /** Time inside inject() in the worker so far (worker mode). */
  workerInjectMs(): Promise<number | undefined>;
}

function localModems(modems: EmulatedModem[]): BenchModems {
  return {
    count: modems.length,
    inject: (m, options) => void modems[m]?.inject(options),
    settle: async () => {},
    commands: async () => modems.reduce((n, modem) => n + modem.counters.commands, 0),
    stored: async () => modems.reduce((n, modem) => n + modem.storage().length, 0),
    relayMs: () => 0,
    workerInjectMs: async () => undefined,
  };
}

/** Injections of one synchronous loop go to the worker as one message (they arrive at the same instant). */
function remoteModems(emulator: RemoteEmulator): BenchModems {
  let pending: Promise<unknown>[] = [];
  let batch: { path: string; options: InjectOptions }[] = [];
  let relayMs = 0;
  const send = () => {
    const from = performance.now();
    pending.push(emulator.injectMany(batch));
    relayMs += performance.now() - from;
    batch = [];
  };
  return {
    count: emulator.paths.length,
    inject: (m, options) => {
      if (batch.length === 0) queueMicrotask(send);
      batch.push({ path: emulator.paths[m] as string, options });
    },
    settle: async () => {
      if (batch.length > 0) send();
      const all = pending;
      pending = [];
      await Promise.all(all);
    },
    relayMs: () => relayMs,
    commands: async () => (await emulator.stats()).commands,
    stored: async () => (await emulator.stats()).stored,
    workerInjectMs: async () => (await emulator.stats()).injectMs,
  };
}

/** Every modem gets one SMS per round, PER_MODEM rounds; rounds `paceMs` apart (0: all 640 in the same instant). */
async function burst(bus: EventBus, modems: BenchModems, paceMs: number, run: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const total = modems.count * PER_MODEM;
  let multipart = 0;
  const owner = `bench-${run}`;
  const done = new Promise<void>((resolve) => {
    bus.on("sms.received", owner, ({ message }) => {
      const t0 = sentAt.get(message.text.slice(0, 12));
      if (t0 !== undefined) latencies.push(performance.now() - t0);
      if (latencies.length === total) resolve();
    });
  });
  const commandsBefore = await modems.commands();
  const workerInjectBefore = await modems.workerInjectMs();
  const relayBefore = modems.relayMs();
  const eluBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const from = performance.now();
  let injectMs = 0;
  for (let i = 0; i < PER_MODEM; i++) {
    if (paceMs > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    for (let m = 0; m < modems.count; m++) {
      const key = `r${run}m${String(m).padStart(3, "0")}i${String(i).padStart(2, "0")}#`.padEnd(12, "-").slice(0, 12);
      const long = (m * PER_MODEM + i) % 10 === 0;
      if (long) multipart++;
      sentAt.set(key, performance.now());
      const injectFrom = performance.now();
      modems.inject(m, { sender: "79001234567", text: long ? `${key} ${"Code 4711 ".repeat(25)}` : `${key} Your code is 4711` });
      injectMs += performance.now() - injectFrom;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpuBefore);
  const elu = performance.eventLoopUtilization(eluBefore);
  const wallMs = performance.now() - from;
  bus.removeOwner(owner);
  await modems.settle();
  // the deletions follow the last message; wait for them before counting commands
  for (let waited = 0; waited < 10_000 && (await modems.stored()) > 0; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  const commands = (await modems.commands()) - commandsBefore;
  const workerInjectAfter = await modems.workerInjectMs();
  injectMs += modems.relayMs() - relayBefore;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    sent: total,
    multipart,
    persisted: latencies.length,
    wallMs: round(wallMs, 0),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1] ?? NaN),
    /** Time inject() took on the hub's thread: the emulator's PDU encoding, storing, +CMTI in-process; the relay to the worker in worker mode. */
    injectMs: round(injectMs, 0),
    /** Time inside inject() in the worker (worker mode). */
    workerInjectMs: workerInjectAfter === undefined || workerInjectBefore === undefined ? undefined : round(workerInjectAfter - workerInjectBefore, 0),
    /** Active (non-idle) time of the hub thread's event loop from the first injection to the last message. */
    hubBusyMs: round(elu.active, 0),
    /** CPU of the whole process (all threads) from the first injection to the last message. */
    cpuMs: round((cpu.user + cpu.system) / 1000, 0),
    /** AT command lines the modems received per SMS (reads and deletes): round trips, independent of load. */
    atPerSms: round(commands / total, 2),
  };
}

export async function run(mode: Mode = "inprocess"): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), "simhive-bench-modems-"));
  const log = silentLogger();
  const store = await Store.open(dir, log);
  const bus = new EventBus(log);
  let emulator: RemoteEmulator | undefined;
  let layer: ModemLayerImpl;
  let modems: BenchModems;
  if (mode === "worker") {
    emulator = await RemoteEmulator.start({ count: MODEMS });
    layer = createModemLayer({ ports: ["/emu/by-path/*"] }, { log, bus, store }, { trigger: join(dir, "rescan"), portClass: emulator.Port });
    modems = remoteModems(emulator);
  } else {
    layer = createModemLayer({ emulator: { count: MODEMS } }, { log, bus, store }, { trigger: join(dir, "rescan") });
    modems = localModems([...layer.emulated.values()]);
  }
  try {
    const startedAt = performance.now();
    await layer.start();
    const startMs = performance.now() - startedAt;
    const ready = layer.list().filter((m) => m.state === "ready").length;

    // idle: default sweep (30 s) and ping (30 s) timers running
    global.gc?.();
    const cpuBefore = process.cpuUsage();
    const idleFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const cpu = process.cpuUsage(cpuBefore);
    const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - idleFrom)) * 100;
    const rssIdleMb = process.memoryUsage().rss / 1024 / 1024;

    const instant = await burst(bus, modems, 0, 1);
    const paced = await burst(bus, modems, PACE_MS, 2);
    const rssAfterBurstMb = process.memoryUsage().rss / 1024 / 1024;
    return {
      mode,
      modems: MODEMS,
      ready,
      startMs: round(startMs, 0),
      rssIdleMb: round(rssIdleMb),
      rssAfterBurstMb: round(rssAfterBurstMb),
      idleCpuPercent: round(idleCpuPercent, 2),
      idleSeconds: IDLE_SECONDS,
      smsSent: instant.sent,
      smsMultipart: instant.multipart,
      smsPersisted: instant.persisted,
      burstMs: instant.wallMs,
      p50Ms: instant.p50Ms,
      p99Ms: instant.p99Ms,
      maxMs: instant.maxMs,
      injectMs: instant.injectMs,
      ...(instant.workerInjectMs === undefined ? {} : { workerInjectMs: instant.workerInjectMs }),
      burstCpuMs: instant.cpuMs,
      hubBusyMs: instant.hubBusyMs,
      atPerSms: instant.atPerSms,
      pacedEveryMs: PACE_MS,
      pacedPersisted: paced.persisted,
      pacedWallMs: paced.wallMs,
      pacedP50Ms: paced.p50Ms,
      pacedP99Ms: paced.p99Ms,
      pacedMaxMs: paced.maxMs,
      pacedAtPerSms: paced.atPerSms,
      heapUsedMb: round(process.memoryUsage().heapUsed / 1024 / 1024),
      loader: import.meta.url.endsWith(".ts") ? "tsx" : "node",
      load1: round(loadavg()[0] ?? NaN, 2),
    };
  } finally {
    await layer.stop();
    await emulator?.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const TARGETS: Record<string, [number, string]> = { p99Ms: [100, "≤ 100 ms"], pacedP99Ms: [100, "≤ 100 ms"], rssIdleMb: [100, "≤ 100 MB"], rssAfterBurstMb: [100, "≤ 100 MB"], idleCpuPercent: [2, "≤ 2 %"] };

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.env.MODE;
  if (only !== undefined && !MODES.includes(only as Mode)) throw new Error(`MODE must be one of ${MODES.join(", ")}`);
  let results: Record<string, number | string>[];
  if (only) {
    results = [await run(only as Mode)];
  } else {
    // each mode in its own process: memory and GC of one run do not leak into the other
    results = [];
    for (const mode of MODES) {
      const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string], { env: { ...process.env, MODE: mode, MODES_CHILD: "1" }, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      const line = child.stdout.split("\n").find((l) => l.startsWith("{"));
      if (child.status !== 0 || !line) throw new Error(`the ${mode} run failed (${child.status ?? child.signal})`);
      results.push(JSON.parse(line) as Record<string, number | string>);
    }
  }
  for (const figures of results) console.log(JSON.stringify({ bench: "modems", ...figures }));
  if (!process.env.MODES_CHILD) {
    console.log("");
    const widest = results.reduce((a, b) => (Object.keys(b).length > Object.keys(a).length ? b : a));
    const names = Object.keys(widest).filter((name) => name !== "bench");
    for (const name of names) {
      const target = TARGETS[name];
      const cells = results.map((figures) => {
        const value = figures[name];
        const mark = target && value !== undefined && Number(value) > target[0] ? " !" : "";
        return `${value ?? "-"}${mark}`.padStart(12);
      });
      console.log(`${name.padEnd(16)} ${cells.join(" ")}  ${target ? `target ${target[1]}` : ""}`.trimEnd());
    }
    console.log("(! target missed)");
  }
}
