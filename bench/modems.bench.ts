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
 * Targets: p99 ≤ 100 ms, RSS ≤ 100 MB, idle CPU ≤ 2 % of one core.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { EventBus } from "../core/bus.ts";
import { silentLogger } from "../core/log.ts";
import type { EmulatedModem } from "../core/modems/emulator/index.ts";
import { createModemLayer } from "../core/modems/index.ts";
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

/** Every modem gets one SMS per round, PER_MODEM rounds; rounds `paceMs` apart (0: all 640 in the same instant). */
async function burst(bus: EventBus, modems: EmulatedModem[], paceMs: number, run: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const total = modems.length * PER_MODEM;
  let multipart = 0;
  const owner = `bench-${run}`;
  const done = new Promise<void>((resolve) => {
    bus.on("sms.received", owner, ({ message }) => {
      const t0 = sentAt.get(message.text.slice(0, 12));
      if (t0 !== undefined) latencies.push(performance.now() - t0);
      if (latencies.length === total) resolve();
    });
  });
  const commandsBefore = countCommands(modems);
  const cpuBefore = process.cpuUsage();
  const from = performance.now();
  let injectMs = 0;
  for (let i = 0; i < PER_MODEM; i++) {
    if (paceMs > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    for (const [m, modem] of modems.entries()) {
      const key = `r${run}m${String(m).padStart(3, "0")}i${String(i).padStart(2, "0")}#`.padEnd(12, "-").slice(0, 12);
      const long = (m * PER_MODEM + i) % 10 === 0;
      if (long) multipart++;
      sentAt.set(key, performance.now());
      const injectFrom = performance.now();
      modem.inject({ sender: "79001234567", text: long ? `${key} ${"Code 4711 ".repeat(25)}` : `${key} Your code is 4711` });
      injectMs += performance.now() - injectFrom;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - from;
  bus.removeOwner(owner);
  // the deletions follow the last message; wait for them before counting commands
  for (let waited = 0; waited < 10_000 && modems.some((m) => m.storage().length > 0); waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  const commands = countCommands(modems) - commandsBefore;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    sent: total,
    multipart,
    persisted: latencies.length,
    wallMs: round(wallMs, 0),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1] ?? NaN),
    /** Time spent inside the emulator's inject() (PDU encoding, storing, +CMTI): the "network" side, in this process. */
    injectMs: round(injectMs, 0),
    /** CPU of the whole process (all threads) from the first injection to the last message. */
    cpuMs: round((cpu.user + cpu.system) / 1000, 0),
    /** AT command lines the modems received per SMS (reads and deletes): round trips, independent of load. */
    atPerSms: round(commands / total, 2),
  };
}

/** Command lines received by the emulated modems so far. */
function countCommands(modems: readonly EmulatedModem[]): number {
  let count = 0;
  for (const modem of modems) count += modem.counters.commands;
  return count;
}

export async function run(): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), "simhive-bench-modems-"));
  const log = silentLogger();
  const store = await Store.open(dir, log);
  const bus = new EventBus(log);
  const layer = createModemLayer({ emulator: { count: MODEMS } }, { log, bus, store }, { trigger: join(dir, "rescan") });
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

    const modems = [...layer.emulated.values()];
    const instant = await burst(bus, modems, 0, 1);
    const paced = await burst(bus, modems, PACE_MS, 2);
    const rssAfterBurstMb = process.memoryUsage().rss / 1024 / 1024;
    return {
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
      burstCpuMs: instant.cpuMs,
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
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const TARGETS: Record<string, [number, string]> = { p99Ms: [100, "≤ 100 ms"], pacedP99Ms: [100, "≤ 100 ms"], rssIdleMb: [100, "≤ 100 MB"], rssAfterBurstMb: [100, "≤ 100 MB"], idleCpuPercent: [2, "≤ 2 %"] };

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  console.log(JSON.stringify({ bench: "modems", ...figures }));
  console.log("");
  for (const [name, value] of Object.entries(figures)) {
    const target = TARGETS[name];
    const verdict = target ? `${target[1]}  ${Number(value) <= target[0] ? "ok" : "MISSED"}` : "";
    console.log(`${name.padEnd(16)} ${String(value).padStart(10)}  ${verdict}`);
  }
}
