import type { EventBus } from "../bus.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModemInfo, ModemState, SmsMessage } from "../types.ts";
import { AtPort, type PortClass } from "./at.ts";
import type { ModemsConfig, PortOverride } from "./config.ts";
import { isRegistered, registrationFromCreg, resolveOwnNumber, type SimRegistry } from "./identity.ts";
import { awaitAt, initialize, InitError, readStatus, type InitResult } from "./init.ts";
import { Intake } from "./intake.ts";
import type { PartStore } from "./parts.ts";
import type { Urc } from "./urc.ts";

export interface ManagedModemOptions {
  path: string;
  config: ModemsConfig;
  override: PortOverride;
  portClass: PortClass;
  bus: EventBus;
  log: Logger;
  sims: SimRegistry;
  parts: PartStore;
  /** USB power cycle of this modem's hub port (uhubctl); absent when not configured. */
  powerCycle?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One modem: its port, its state (every change on the bus), the init
 * sequence, the health ping, the storage sweep and the recovery ladder.
 * Everything it waits for is its own port; nothing here blocks another modem.
 */
export class ManagedModem {
  readonly path: string;
  readonly #o: ManagedModemOptions;
  readonly #log: Logger;
  readonly #intake: Intake;
  #info: ModemInfo;
  #at: AtPort | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #busy: Promise<void> | undefined;
  #stopped = false;
  #disabled: boolean;
  #absentSince: number | undefined;

  constructor(options: ManagedModemOptions) {
    this.path = options.path;
    this.#o = options;
    this.#log = options.log.child({ port: options.path });
    this.#disabled = options.override.disabled === true;
    this.#info = { port: options.path, state: this.#disabled ? "disabled" : "probing", reconnects: 0, updatedAt: Date.now() };
    this.#intake = new Intake(
      {
        at: () => this.#at,
        identity: () => ({ iccid: this.#info.iccid, imei: this.#info.imei, msisdn: this.#info.msisdn }),
        storage: (used, total) => this.#update({ storageUsed: used, storageTotal: total }),
        received: (message: SmsMessage) => this.#update({ lastSmsAt: message.receivedAt }),
      },
      { parts: options.parts, bus: options.bus, log: this.#log, timeoutMs: this.#timeoutMs },
    );
  }

  get info(): ModemInfo {
    return { ...this.#info };
  }

  /** Since when the port has been gone (undefined while present). */
  get absentSince(): number | undefined {
    return this.#absentSince;
  }

  get #timeoutMs(): number {
    return this.#o.config.commandTimeoutSeconds * 1000;
  }

  /** Connects (first attempt); later attempts run in the background. */
  async start(): Promise<void> {
    if (this.#disabled) {
      this.#emitState(undefined, "disabled in config");
      return;
    }
    this.#emitState(undefined);
    await this.#exclusive(() => this.#connect());
  }

  /** Runs `fn` unless another lifecycle step is running (then waits for that one). */
  #exclusive(fn: () => Promise<void>): Promise<void> {
    if (this.#busy) return this.#busy;
    this.#busy = fn().finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  async #connect(reconnect = false): Promise<void> {
    this.#clearTimers();
    await this.#closePort();
    if (this.#stopped || this.#disabled) return;
    const at = new AtPort({ path: this.path, portClass: this.#o.portClass, baudRate: this.#o.override.baudRate ?? this.#o.config.baudRate, log: this.#log, timeoutMs: this.#timeoutMs });
    try {
      await at.open();
    } catch (error) {
      const missing = /ENOENT|No such file|cannot open/i.test(describeError(error));
      this.#setState(missing ? "absent" : "failed", describeError(error));
      if (missing) this.#absentSince ??= Date.now();
      this.#scheduleRetry();
      return;
    }
    this.#absentSince = undefined;
    this.#at = at;
    at.on("urc", (urc) => this.#onUrc(urc));
    at.on("close", (reason) => this.#onPortClosed(at, reason));
    if (reconnect) this.#update({ reconnects: this.#info.reconnects + 1 });
    try {
      this.#setState("probing", undefined);
      await awaitAt(at, 3, Math.min(this.#timeoutMs, 2000));
      this.#setState("initializing", undefined);
      const init = await initialize(at, this.#o.config, this.#o.override, this.#timeoutMs);
      await this.#ready(init);
    } catch (error) {
      if (this.#stopped || this.#at !== at) return; // stopped, or the port went away (the close handler took over)
      if (error instanceof InitError && error.state === "sim-error") {
        this.#setState("sim-error", error.message);
        this.#scheduleRetry(); // a SIM may be inserted or a PIN configured later
        return;
      }
      this.#setState("failed", describeError(error));
      await this.#closePort();
      this.#scheduleRetry();
    }
  }

  async #ready(init: InitResult): Promise<void> {
    const at = this.#at;
    if (!at || !init.iccid) return;
    const known = await this.#o.sims.get(init.iccid);
    this.#update({
      imei: init.imei,
      imsi: init.imsi,
      iccid: init.iccid,
      country: init.country,
      operator: init.operator,
      signalDbm: init.signalDbm,
      registration: registrationFromCreg(init.cregStat),
      storageUsed: init.storageUsed,
      storageTotal: init.storageTotal,
      msisdn: known?.msisdn,
    });
    this.#failures = 0;
    this.#setState(isRegistered(this.#info.registration) ? "ready" : "not-registered", isRegistered(this.#info.registration) ? undefined : `registration: ${this.#info.registration}`);
    // stored while the hub was down, or lost URCs: take them before anything else
    await this.#intake.sweep();
    await this.#learnNumber();
    this.#armTimers();
  }

  async #learnNumber(): Promise<void> {
    const at = this.#at;
    const iccid = this.#info.iccid;
    if (!at || !iccid) return;
    const known = await this.#o.sims.get(iccid);
    const registered = isRegistered(this.#info.registration);
    const found = await resolveOwnNumber({
      at,
      config: this.#o.config,
      iccid,
      country: this.#info.country,
      operator: registered ? this.#info.operator : undefined, // USSD needs the network
      portMsisdn: this.#o.override.msisdn,
      known,
      log: this.#log,
      timeoutMs: this.#timeoutMs,
    });
    await this.#o.sims.seen(iccid, {
      imsi: this.#info.imsi,
      lastImei: this.#info.imei,
      lastPort: this.path,
      ...(found ? { msisdn: found.msisdn, msisdnSource: found.source } : {}),
    });
    if (found && found.msisdn !== this.#info.msisdn) this.#update({ msisdn: found.msisdn });
    if (!found) this.#log.warn({ iccid, operator: this.#info.operator }, "own number unknown: set modems.numbers or modems.ussd");
  }

  #armTimers(): void {
    this.#clearTimers();
    if (this.#stopped) return;
    this.#pingTimer = setInterval(() => void this.#ping(), this.#o.config.pingSeconds * 1000);
    this.#sweepTimer = setInterval(() => void this.#intake.sweep(), this.#o.config.sweepSeconds * 1000);
    this.#pingTimer.unref();
    this.#sweepTimer.unref();
  }

  #clearTimers(): void {
    clearInterval(this.#pingTimer);
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#retryTimer);
    this.#pingTimer = this.#sweepTimer = this.#retryTimer = undefined;
  }

  async #ping(): Promise<void> {
    const at = this.#at;
    if (!at || this.#busy) return;
    try {
      const status = await readStatus(at, this.#timeoutMs);
      this.#applyStatus(status.signalDbm, status.cregStat);
    } catch (error) {
      if (!this.#at?.isOpen) return; // the close handler takes over
      this.#log.warn({ err: error }, "health ping failed; running the recovery ladder");
      void this.#exclusive(() => this.#recover(`no answer to health ping: ${describeError(error)}`));
    }
  }

  #applyStatus(signalDbm: number | undefined, cregStat: number | undefined): void {
    const registration = cregStat === undefined ? this.#info.registration : registrationFromCreg(cregStat);
    if (signalDbm !== this.#info.signalDbm || registration !== this.#info.registration) this.#update({ signalDbm, registration });
    if (this.#info.state !== "ready" && this.#info.state !== "not-registered") return;
    const next: ModemState = isRegistered(registration) ? "ready" : "not-registered";
    if (next !== this.#info.state) {
      this.#setState(next, next === "ready" ? undefined : `registration: ${registration}`);
      if (next === "ready" && !this.#info.msisdn) void this.#learnNumber().catch((error: unknown) => this.#log.warn({ err: error }, "learning the own number failed"));
    }
  }

  #onUrc(urc: Urc): void {
    if (urc.type === "creg") this.#applyStatus(this.#info.signalDbm, urc.stat);
    else this.#intake.onUrc(urc);
  }

  #onPortClosed(at: AtPort, reason: string): void {
    if (this.#at !== at || this.#stopped) return;
    this.#at = undefined;
    this.#clearTimers();
    this.#absentSince ??= Date.now();
    this.#setState("absent", `port closed: ${reason}`);
    this.#scheduleRetry();
  }

  /**
   * The recovery ladder, each step tried only if the one before did not bring
   * back an answer to AT: flush stale replies and AT; radio off/on
   * (AT+CFUN=0/1); reopen the port; USB power cycle (uhubctl, if configured).
   * Each success runs the full init again; exhaustion leaves the modem
   * `failed` with a capped, growing retry delay.
   */
  async #recover(reason: string): Promise<void> {
    this.#clearTimers();
    this.#setState("failed", `${reason}; recovering`);
    const at = this.#at;
    const answers = async (port: AtPort | undefined, wait = 2000) => {
      if (!port?.isOpen) return false;
      await port.flush(200, wait);
      return port.command("AT", { timeoutMs: 2000 }).then(
        () => true,
        () => false,
      );
    };
    if (await answers(at)) return this.#connectAgain("flush");
    if (at?.isOpen) {
      await at.command("AT+CFUN=0", { timeoutMs: 10_000 }).catch(() => undefined);
      await at.command("AT+CFUN=1", { timeoutMs: 10_000 }).catch(() => undefined);
      if (await answers(at, 3000)) return this.#connectAgain("cfun");
    }
    await this.#connect(true);
    if (this.#usable() || !this.#o.powerCycle || this.#stopped) return;
    this.#log.warn("reopening did not help: power-cycling the modem's USB port");
    clearTimeout(this.#retryTimer);
    await this.#closePort();
    await this.#o.powerCycle().catch((error: unknown) => this.#log.error({ err: error }, "uhubctl failed"));
    await sleep(5000); // USB enumeration after power-on
    await this.#connect(true);
  }

  #usable(): boolean {
    return this.#info.state === "ready" || this.#info.state === "not-registered";
  }

  async #connectAgain(step: string): Promise<void> {
    this.#log.info({ step }, "modem answers again");
    await this.#connect(true);
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#disabled) return;
    clearTimeout(this.#retryTimer);
    const delay = Math.min(this.#o.config.maxBackoffSeconds * 1000, 1000 * 2 ** Math.min(this.#failures, 20));
    this.#failures++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#exclusive(() => this.#connect(true));
    }, delay);
    this.#retryTimer.unref();
  }

  /** The port is listed again (re-scan): try now instead of waiting for the backoff. */
  wake(): void {
    if (this.#info.state !== "absent" && this.#info.state !== "failed") return;
    clearTimeout(this.#retryTimer);
    this.#failures = 0;
    void this.#exclusive(() => this.#connect(true));
  }

  /** Operator commands: reset runs the ladder, disable/enable take the modem out of and back into service. */
  async command(action: "reset" | "disable" | "enable"): Promise<void> {
    if (action === "disable") {
      this.#disabled = true;
      await this.#busy;
      this.#clearTimers();
      await this.#closePort();
      this.#setState("disabled", "disabled by command");
    } else if (action === "enable") {
      if (!this.#disabled) return;
      this.#disabled = false;
      this.#failures = 0;
      await this.#exclusive(() => this.#connect(true));
    } else {
      if (this.#disabled) return;
      await this.#exclusive(() => this.#recover("reset by command"));
    }
  }

  /** A sweep now (tests, after an operator's request). */
  sweep(): Promise<unknown> {
    return this.#intake.sweep();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#intake.stop();
    this.#clearTimers();
    await this.#closePort();
  }

  async #closePort(): Promise<void> {
    const at = this.#at;
    this.#at = undefined;
    if (at) await at.close().catch(() => undefined);
  }

  #update(patch: Partial<ModemInfo>): void {
    const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    this.#info = { ...this.#info, ...clean, updatedAt: Date.now() };
    this.#o.bus.emit("modem.updated", { modem: this.info });
  }

  #setState(state: ModemState, reason: string | undefined): void {
    const previous = this.#info.state;
    if (previous === state && this.#info.reason === reason) return;
    this.#info = { ...this.#info, state, updatedAt: Date.now() };
    if (reason === undefined) delete this.#info.reason;
    else this.#info.reason = reason;
    this.#emitState(previous, reason);
    if (state === "failed" || state === "sim-error") this.#log.warn({ state, reason }, "modem state");
    else this.#log.info({ state, previous, reason }, "modem state");
  }

  #emitState(previous: ModemState | undefined, reason?: string): void {
    const info = this.#info;
    this.#o.bus.emit("modem.state", {
      port: this.path,
      state: info.state,
      ...(info.imei ? { imei: info.imei } : {}),
      ...(info.iccid ? { iccid: info.iccid } : {}),
      ...(previous ? { previous } : {}),
      ...(reason ?? info.reason ? { reason: reason ?? info.reason } : {}),
    });
    this.#o.bus.emit("modem.updated", { modem: this.info });
  }
}
