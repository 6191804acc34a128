import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModemInfo, NumberInfo, NumbersView } from "../types.ts";
import type { PortClass } from "./at.ts";
import { overrideFor, type ModemsConfig, type PortOverride } from "./config.ts";
import { backoffMs, Limiter, listCandidates, matchesGlob, PortWatcher, probePort, type ProbeResult } from "./discovery.ts";
import { isRegistered, SimRegistry } from "./identity.ts";
import { ManagedModem } from "./modem.ts";
import { PartStore } from "./parts.ts";
import type { ModemLayer, ModemLayerDeps } from "./types.ts";

export interface PoolOptions {
  config: ModemsConfig;
  deps: ModemLayerDeps;
  portClass: PortClass;
  /** Lists candidate ports for the globs (default: filesystem + the port class's list()). */
  list?: (patterns: readonly string[]) => Promise<string[]>;
  /** How long start() waits for the first scan and the modems' first connections (default 5 s); slower modems join as they come. */
  startWaitMs?: number;
  /** Re-probing of listed ports that did not answer: first delay, doubling up to the cap (default 10 s up to 160 s). */
  probeRetry?: { firstMs: number; maxMs: number };
  /** The rescan trigger file (default /run/simhive/rescan). */
  trigger?: string;
  /** Called last in stop() (the emulator's cleanup). */
  onStop?: () => Promise<void> | void;
}

const execFileAsync = promisify(execFile);

const DEFAULT_START_WAIT_MS = 5000;
const DEFAULT_PROBE_RETRY = { firstMs: 10_000, maxMs: 160_000 };
/** Probes of a port that does not answer AT before it is left alone (until it comes back, or rescan()): about 13 minutes by default. */
const PROBE_ATTEMPTS = 8;
/** A SIM's incomplete multipart waits for its modem's first sweep this long after hub start at most (at least 2 × the timeout). */
const HOLD_MAX_MS = 10 * 60_000;

/** The modem layer: discovery, one ManagedModem per AT port, the views plugins see. */
export class ModemPool implements ModemLayer {
  readonly numbers: NumbersView;
  readonly parts: PartStore;
  readonly #o: PoolOptions;
  readonly #log: Logger;
  readonly #sims: SimRegistry;
  readonly #modems = new Map<string, ManagedModem>();
  /** Ports that did not answer AT (or did not open), while they stay listed: probed again with backoff. */
  readonly #notAt = new Map<string, { failures: number; dueAt: number }>();
  /** Ports being probed now (or waiting for a probe slot). */
  readonly #probing = new Set<string>();
  readonly #probes: Limiter;
  /** Ports listed by the last scan. */
  #listed = new Set<string>();
  /** ICCIDs whose modem has swept them since start (their incomplete multipart may be released). */
  readonly #swept = new Set<string>();
  /** Modems' first connections in progress. */
  readonly #connecting = new Set<Promise<void>>();
  #startedAt = Date.now();
  #reprobeTimer: NodeJS.Timeout | undefined;
  /** Second AT interfaces of a modem already managed on another port, while they stay listed. */
  readonly #secondary = new Map<string, string>();
  readonly #watcher: PortWatcher;
  #rescan: Promise<void> | undefined;
  #rescanAgain = false;
  #forceNext = false;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(options: PoolOptions) {
    this.#o = options;
    this.#log = options.deps.log;
    this.#sims = new SimRegistry(options.deps.store);
    this.parts = new PartStore(options.deps.store, this.#log);
    this.#probes = new Limiter(options.config.probeConcurrency);
    this.#watcher = new PortWatcher(() => void this.#scanSoon(false), this.#log, options.trigger);
    this.numbers = {
      list: () => this.#numbers(),
      byMsisdn: (msisdn) => this.#numbers().find((n) => n.msisdn === msisdn),
    };
  }

  async start(): Promise<void> {
    const { config, deps } = this.#o;
    deps.store.registerPruner("modems.parts", (cutoff) => this.parts.prune(cutoff));
    this.#startedAt = Date.now();
    await this.#watcher.start(config.ports);
    const every = (seconds: number, fn: () => Promise<void>) => {
      const timer = setInterval(() => void fn().catch((error: unknown) => this.#log.error({ err: error }, "modem layer task failed")), seconds * 1000);
      timer.unref();
      this.#timers.push(timer);
    };
    every(config.rescanSeconds, async () => {
      await this.#watcher.consumeTrigger();
      await this.#scanSoon(false);
    });
    every(Math.min(config.sweepSeconds, config.multipartTimeoutSeconds), () => this.#releaseExpired());
    // The first scan and the modems' first connections, for a short while only: the hub
    // (activations, plugins, READY) does not wait for a slow modem; it joins the views when ready.
    const first = this.#scanSoon(false).then(() => this.#firstConnections());
    first.catch((error: unknown) => this.#log.error({ err: error }, "the first port scan failed"));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, this.#o.startWaitMs ?? DEFAULT_START_WAIT_MS)))]);
    clearTimeout(timer);
    const pending = this.list().filter((m) => m.state === "probing" || m.state === "initializing");
    if (pending.length > 0 || this.#rescan) this.#log.info({ pending: pending.map((m) => m.port), scanning: Boolean(this.#rescan) }, "modems still starting; they join as they become ready");
  }

  /** Until no modem is in its first connection. */
  async #firstConnections(): Promise<void> {
    while (this.#connecting.size > 0 && !this.#stopped) await Promise.allSettled([...this.#connecting]);
  }

  /** Re-scans the port globs now (SIGHUP, the operator): ports that did not answer are probed again at once. */
  rescan(): Promise<void> {
    return this.#scanSoon(true);
  }

  /**
   * Scans; concurrent calls share one scan (plus one more if asked for
   * meanwhile). `force`: probe again every listed port that did not answer,
   * whatever its backoff, and wake every absent or failed modem. Otherwise
   * those ports are left to #reprobe, which runs beside the scans, so that a
   * hot-plug scan never waits for silent ports' probes.
   */
  #scanSoon(force: boolean): Promise<void> {
    this.#forceNext ||= force;
    if (this.#rescan) {
      this.#rescanAgain = true;
      return this.#rescan;
    }
    this.#rescan = (async () => {
      do {
        this.#rescanAgain = false;
        const forced = this.#forceNext;
        this.#forceNext = false;
        await this.#scan(forced);
      } while (this.#rescanAgain && !this.#stopped);
    })().finally(() => {
      this.#rescan = undefined;
    });
    return this.#rescan;
  }

  async #scan(force: boolean): Promise<void> {
    if (this.#stopped) return;
    const { config, portClass } = this.#o;
    const listed = await (this.#o.list ? this.#o.list(config.ports) : listCandidates(config.ports, portClass));
    const present = new Set(listed);
    const before = this.#listed;
    this.#listed = present;
    for (const path of [...this.#notAt.keys()]) if (!present.has(path)) this.#notAt.delete(path); // gone: its backoff starts again
    for (const path of [...this.#secondary.keys()]) if (!present.has(path)) this.#secondary.delete(path);

    const now = Date.now();
    for (const [path, modem] of this.#modems) {
      if (present.has(path)) {
        if (force || !before.has(path)) modem.wake(); // back (or asked for): now, not after its backoff
      } else if (modem.absentSince !== undefined && now - modem.absentSince >= config.absentSeconds * 1000) await this.#remove(path);
    }

    const fresh = listed.filter((path) => !this.#modems.has(path) && !this.#secondary.has(path) && (force || !this.#notAt.has(path)));
    const toProbe: string[] = [];
    for (const path of fresh) {
      const override = this.#override(path);
      if (override.disabled) this.#add(path, override);
      else toProbe.push(path);
    }
    // each AT port is taken on as soon as its probe answers: a slow port holds up no other
    await Promise.all(toProbe.map((path) => this.#probe(path, true)));
    this.#armReprobe();
  }

  /** Probes `path` (at most probeConcurrency at once, `urgent` ones first) and takes it on if it answers. */
  async #probe(path: string, urgent: boolean): Promise<void> {
    if (this.#probing.has(path)) return;
    this.#probing.add(path);
    try {
      const { config, portClass } = this.#o;
      const timeoutMs = Math.min(1500, config.commandTimeoutSeconds * 1000);
      const probe = await this.#probes.run(async () => (this.#stopped ? undefined : probePort(path, portClass, this.#override(path).baudRate ?? config.baudRate, this.#log, timeoutMs)), urgent);
      if (probe && !this.#stopped) await this.#probed(probe);
    } finally {
      this.#probing.delete(path);
    }
  }

  /** Probes again the listed ports that did not answer and are due. */
  async #reprobe(): Promise<void> {
    const now = Date.now();
    const due = [...this.#notAt].filter(([path, r]) => r.dueAt <= now && this.#listed.has(path) && !this.#modems.has(path) && !this.#secondary.has(path));
    await Promise.all(due.map(([path]) => this.#probe(path, false)));
    this.#armReprobe();
  }

  async #probed(probe: ProbeResult): Promise<void> {
    const path = probe.path;
    if (!probe.at) {
      const retry = this.#o.probeRetry ?? DEFAULT_PROBE_RETRY;
      const record = this.#notAt.get(path) ?? { failures: 0, dueAt: 0 };
      const reprobeInMs = backoffMs(record.failures, retry.firstMs, retry.maxMs);
      record.failures++;
      this.#notAt.set(path, record);
      const failure = probe.openFailure;
      // a port that cannot be opened is retried at the capped delay until it can (permissions fixed, the other process gone)
      if (failure && (failure.kind === "denied" || failure.kind === "busy")) {
        record.dueAt = Date.now() + reprobeInMs;
        if (record.failures === 1) this.#log.error({ port: path, reason: probe.error, reprobeInMs }, `cannot open the port: ${failure.hint}`);
        else this.#log.debug({ port: path, reason: probe.error, reprobeInMs }, "port still cannot be opened");
      } else if (record.failures < PROBE_ATTEMPTS) {
        record.dueAt = Date.now() + reprobeInMs;
        this.#log.debug({ port: path, reason: probe.error, reprobeInMs }, "no AT answer (not an AT port, or still booting): probing again later");
      } else {
        // a modem's diagnostics, PPP or GPS interface: not written to for ever
        record.dueAt = Infinity;
        this.#log.debug({ port: path, reason: probe.error, probes: record.failures }, "no AT answer: not probed again until the port comes back, or on rescan (SIGHUP)");
      }
      return;
    }
    this.#notAt.delete(path);
    const owner = probe.imei ? this.#byImei(probe.imei) : undefined;
    if (owner && owner.info.state !== "absent") {
      this.#secondary.set(path, owner.path);
      this.#log.info({ port: path, primary: owner.path }, "second AT interface of a managed modem: left alone");
      return;
    }
    if (owner) await this.#remove(owner.path); // the same modem, re-plugged on another port
    this.#add(path, this.#override(path));
  }

  /** A re-probe when the first port that did not answer is due. */
  #armReprobe(): void {
    clearTimeout(this.#reprobeTimer);
    this.#reprobeTimer = undefined;
    // a port being probed is re-armed when its probe ends
    const next = Math.min(...[...this.#notAt].filter(([path]) => !this.#probing.has(path)).map(([, r]) => r.dueAt));
    if (this.#stopped || !Number.isFinite(next)) return;
    this.#reprobeTimer = setTimeout(() => void this.#reprobe().catch((error: unknown) => this.#log.error({ err: error }, "port re-probe failed")), Math.max(0, next - Date.now()));
    this.#reprobeTimer.unref();
  }

  #add(path: string, override: PortOverride): void {
    if (this.#stopped) return;
    const { config, deps, portClass } = this.#o;
    const modem = new ManagedModem({
      path,
      config,
      override,
      portClass,
      bus: deps.bus,
      log: this.#log,
      sims: this.#sims,
      parts: this.parts,
      ...(override.uhubctl && config.uhubctl ? { powerCycle: () => this.#powerCycle(override.uhubctl as { hub: string; port: number }) } : {}),
      onSwept: (iccid) => this.#swept.add(iccid),
    });
    this.#modems.set(path, modem);
    const connecting = modem.start().catch((error: unknown) => this.#log.error({ err: error, port: path }, "modem start failed"));
    this.#connecting.add(connecting);
    void connecting.finally(() => this.#connecting.delete(connecting));
  }

  async #remove(path: string): Promise<void> {
    const modem = this.#modems.get(path);
    if (!modem) return;
    this.#modems.delete(path);
    const imei = modem.info.imei;
    await modem.stop();
    this.#o.deps.bus.emit("modem.removed", { port: path, ...(imei ? { imei } : {}) });
  }

  #override(path: string): PortOverride {
    return overrideFor(this.#o.config, path, matchesGlob);
  }

  #byImei(imei: string): ManagedModem | undefined {
    for (const modem of this.#modems.values()) if (modem.info.imei === imei) return modem;
    return undefined;
  }

  async #powerCycle(target: { hub: string; port: number }): Promise<void> {
    const uhubctl = this.#o.config.uhubctl;
    if (!uhubctl) return;
    const args = uhubctl.args.map((arg) => arg.replace("{hub}", target.hub).replace("{port}", String(target.port)));
    await execFileAsync(uhubctl.command, args, { timeout: uhubctl.timeoutSeconds * 1000 });
  }

  /**
   * Releases incomplete multipart messages. Their age counts from no earlier
   * than hub start (parts stored on a SIM while the hub was down are read only
   * now), and a SIM's groups wait until its modem has swept since start (for
   * at most max(2 × the timeout, 10 min) after start: a modem that never comes
   * back does not hold them for ever).
   */
  async #releaseExpired(): Promise<void> {
    const timeoutMs = this.#o.config.multipartTimeoutSeconds * 1000;
    const sinceStart = Date.now() - this.#startedAt;
    if (sinceStart < timeoutMs) return;
    const held = sinceStart < Math.max(2 * timeoutMs, HOLD_MAX_MS) ? await this.#heldSims() : new Set<string>();
    const released = await this.parts.releaseExpired(timeoutMs, Date.now(), (iccid) => !held.has(iccid));
    for (const message of released) this.#o.deps.bus.emit("sms.received", { message });
  }

  /**
   * SIMs that may still bring parts: in a modem that has not swept since start
   * (still probing, initialising, failed or absent), or last seen on a listed
   * port that has not answered yet.
   */
  async #heldSims(): Promise<Set<string>> {
    const held = new Set<string>();
    const ports = new Set<string>([...this.#notAt.keys(), ...this.#probing]);
    for (const [path, modem] of this.#modems) {
      const { state, iccid } = modem.info;
      if (state === "disabled" || state === "sim-error" || (iccid && this.#swept.has(iccid))) continue;
      ports.add(path);
      if (iccid) held.add(iccid);
    }
    for (const iccid of await this.#sims.lastSeenOn(ports)) if (!this.#swept.has(iccid)) held.add(iccid);
    return held;
  }

  list(): ModemInfo[] {
    return [...this.#modems.values()].map((m) => m.info).sort((a, b) => a.port.localeCompare(b.port));
  }

  get(imei: string): ModemInfo | undefined {
    return this.#byImei(imei)?.info;
  }

  async command(imei: string, action: "reset" | "disable" | "enable"): Promise<void> {
    const modem = this.#byImei(imei);
    if (!modem) throw new SimhiveError("SIMHIVE_ERR_MODEM", `no modem with IMEI ${imei}`);
    await modem.command(action);
  }

  /** A sweep of every modem now (tests, operator). */
  async sweepAll(): Promise<void> {
    await Promise.all([...this.#modems.values()].map((m) => m.sweep()));
  }

  #numbers(): NumberInfo[] {
    const result: NumberInfo[] = [];
    for (const modem of this.#modems.values()) {
      const info = modem.info;
      if (info.state !== "ready" || !isRegistered(info.registration) || !info.msisdn || !info.imei || !info.iccid) continue;
      result.push({ msisdn: info.msisdn, iccid: info.iccid, imei: info.imei, country: info.country ?? "unknown", operator: info.operator ?? "unknown" });
    }
    return result;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher.stop();
    clearTimeout(this.#reprobeTimer);
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    // a scan in progress notices #stopped and adds nothing more; its waits end as ports close
    await Promise.allSettled([...this.#modems.values()].map((m) => m.stop()));
    await this.#o.onStop?.();
  }
}
