import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModemInfo, NumberInfo, NumbersView } from "../types.ts";
import type { PortClass } from "./at.ts";
import { overrideFor, type ModemsConfig, type PortOverride } from "./config.ts";
import { listCandidates, mapLimit, matchesGlob, PortWatcher, probePort } from "./discovery.ts";
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
  /** How long start() waits for the modems' first connection before returning (they go on in the background). */
  startWaitMs?: number;
  /** The rescan trigger file (default /run/simhive/rescan). */
  trigger?: string;
  /** Called last in stop() (the emulator's cleanup). */
  onStop?: () => Promise<void> | void;
}

const execFileAsync = promisify(execFile);

/** The modem layer: discovery, one ManagedModem per AT port, the views plugins see. */
export class ModemPool implements ModemLayer {
  readonly numbers: NumbersView;
  readonly parts: PartStore;
  readonly #o: PoolOptions;
  readonly #log: Logger;
  readonly #sims: SimRegistry;
  readonly #modems = new Map<string, ManagedModem>();
  /** Ports that did not answer AT, while they stay listed. */
  readonly #notAt = new Set<string>();
  /** Second AT interfaces of a modem already managed on another port, while they stay listed. */
  readonly #secondary = new Map<string, string>();
  readonly #watcher: PortWatcher;
  #rescan: Promise<void> | undefined;
  #rescanAgain = false;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(options: PoolOptions) {
    this.#o = options;
    this.#log = options.deps.log;
    this.#sims = new SimRegistry(options.deps.store);
    this.parts = new PartStore(options.deps.store, this.#log);
    this.#watcher = new PortWatcher(() => void this.rescan(), this.#log, options.trigger);
    this.numbers = {
      list: () => this.#numbers(),
      byMsisdn: (msisdn) => this.#numbers().find((n) => n.msisdn === msisdn),
    };
  }

  async start(): Promise<void> {
    const { config, deps } = this.#o;
    deps.store.registerPruner("modems.parts", (cutoff) => this.parts.prune(cutoff));
    await this.#watcher.start(config.ports);
    await this.#releaseExpired();
    const every = (seconds: number, fn: () => Promise<void>) => {
      const timer = setInterval(() => void fn().catch((error: unknown) => this.#log.error({ err: error }, "modem layer task failed")), seconds * 1000);
      timer.unref();
      this.#timers.push(timer);
    };
    every(config.rescanSeconds, async () => {
      await this.#watcher.consumeTrigger();
      await this.rescan();
    });
    every(Math.min(config.sweepSeconds, config.multipartTimeoutSeconds), () => this.#releaseExpired());
    await this.rescan(true);
  }

  /** Re-scans the port globs; concurrent calls share one scan (plus one more if asked for meanwhile). */
  rescan(waitForModems = false): Promise<void> {
    if (this.#rescan) {
      this.#rescanAgain = true;
      return this.#rescan;
    }
    this.#rescan = (async () => {
      do {
        this.#rescanAgain = false;
        await this.#scan(waitForModems);
      } while (this.#rescanAgain && !this.#stopped);
    })().finally(() => {
      this.#rescan = undefined;
    });
    return this.#rescan;
  }

  async #scan(waitForModems: boolean): Promise<void> {
    if (this.#stopped) return;
    const { config, portClass } = this.#o;
    const listed = await (this.#o.list ? this.#o.list(config.ports) : listCandidates(config.ports, portClass));
    const present = new Set(listed);
    for (const path of [...this.#notAt]) if (!present.has(path)) this.#notAt.delete(path);
    for (const path of [...this.#secondary.keys()]) if (!present.has(path)) this.#secondary.delete(path);

    const now = Date.now();
    for (const [path, modem] of this.#modems) {
      if (present.has(path)) modem.wake();
      else if (modem.absentSince !== undefined && now - modem.absentSince >= config.absentSeconds * 1000) await this.#remove(path);
    }

    const fresh = listed.filter((path) => !this.#modems.has(path) && !this.#notAt.has(path) && !this.#secondary.has(path));
    const started: Promise<void>[] = [];
    const toProbe: string[] = [];
    for (const path of fresh) {
      const override = this.#override(path);
      if (override.disabled) started.push(this.#add(path, override));
      else toProbe.push(path);
    }
    const probes = await mapLimit(toProbe, config.probeConcurrency, (path) =>
      probePort(path, portClass, this.#override(path).baudRate ?? config.baudRate, this.#log, Math.min(1500, config.commandTimeoutSeconds * 1000)),
    );
    for (const probe of probes) {
      if (this.#stopped) return;
      if (!probe.at) {
        this.#log.debug({ port: probe.path, reason: probe.error }, "not an AT port");
        this.#notAt.add(probe.path);
        continue;
      }
      const owner = probe.imei ? this.#byImei(probe.imei) : undefined;
      if (owner && owner.info.state !== "absent") {
        this.#secondary.set(probe.path, owner.path);
        this.#log.info({ port: probe.path, primary: owner.path }, "second AT interface of a managed modem: left alone");
        continue;
      }
      if (owner) await this.#remove(owner.path); // the same modem, re-plugged on another port
      started.push(this.#add(probe.path, this.#override(probe.path)));
    }
    if (waitForModems && started.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(started), new Promise((resolve) => (timer = setTimeout(resolve, this.#o.startWaitMs ?? 20_000)))]);
      clearTimeout(timer);
    }
  }

  #add(path: string, override: PortOverride): Promise<void> {
    if (this.#stopped) return Promise.resolve();
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
    });
    this.#modems.set(path, modem);
    return modem.start().catch((error: unknown) => this.#log.error({ err: error, port: path }, "modem start failed"));
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

  async #releaseExpired(): Promise<void> {
    const released = await this.parts.releaseExpired(this.#o.config.multipartTimeoutSeconds * 1000);
    for (const message of released) this.#o.deps.bus.emit("sms.received", { message });
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
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    // a scan in progress notices #stopped and adds nothing more; its waits end as ports close
    await Promise.allSettled([...this.#modems.values()].map((m) => m.stop()));
    await this.#o.onStop?.();
  }
}
