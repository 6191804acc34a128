import type { EventBus } from "../bus.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModemInfo, ModemState, SmsMessage } from "../types.ts";
import { AtPort, type PortClass } from "./at.ts";
import type { ModemsConfig, PortOverride } from "./config.ts";
import { backoffMs, classifyOpenError } from "./discovery.ts";
import { isRegistered, knownOwnNumber, registrationFromCreg, resolveOwnNumber, ussdOwnNumber, withoutSim, type OwnNumber, type OwnNumberContext, type SimRegistry } from "./identity.ts";
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
  /** The first storage sweep after a connection has run for this SIM (the pool's multipart release waits for it). */
  onSwept?: (iccid: string) => void;
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
  /** The SIM fields in #info are those of the SIM in the modem now (read on this connection). */
  #identified = false;

  constructor(options: ManagedModemOptions) {
    this.path = options.path;
    this.#o = options;
    this.#log = options.log.child({ port: options.path });
    this.#disabled = options.override.disabled === true;
    this.#info = { port: options.path, state: this.#disabled ? "disabled" : "probing", reconnects: 0, updatedAt: Date.now() };
    this.#intake = new Intake(
      {
        at: () => this.#at,
        // until the SIM is read on this connection, nothing is persisted (under the previous SIM's ICCID)
        identity: () => (this.#identified ? { iccid: this.#info.iccid, imei: this.#info.imei, msisdn: this.#info.msisdn } : {}),
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
      this.#openFailed(error);
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

  /** absent (the device is gone) or failed (no permission, held by another process, ...), then a retry with backoff. */
  #openFailed(error: unknown): void {
    const failure = classifyOpenError(error);
    if (failure.kind === "absent") {
      this.#absentSince ??= Date.now();
      this.#setState("absent", describeError(error));
    } else {
      this.#absentSince = undefined; // it is there: not to be removed as gone
      if (failure.kind === "other") {
        this.#setState("failed", describeError(error));
      } else {
        // the operator can fix these: say how, once per cause
        const reason = `${failure.hint} (${describeError(error)})`;
        if (reason !== this.#info.reason) this.#log.error({ err: error }, `cannot open the port: ${failure.hint}`);
        this.#setState("failed", reason);
      }
    }
    this.#scheduleRetry();
  }

  async #ready(init: InitResult): Promise<void> {
    const at = this.#at;
    const iccid = init.iccid;
    if (!at || !iccid) return;
    if (iccid !== this.#info.iccid) this.#info = withoutSim(this.#info); // another SIM: nothing of the previous one carries over
    this.#update({
      imei: init.imei,
      imsi: init.imsi,
      iccid,
      country: init.country,
      operator: init.operator,
      signalDbm: init.signalDbm,
      registration: registrationFromCreg(init.cregStat),
      storageUsed: init.storageUsed,
      storageTotal: init.storageTotal,
    });
    this.#identified = true;
    // where the SIM is, before anything is read from it (the multipart release asks)
    await this.#o.sims.seen(iccid, { imsi: init.imsi, lastImei: init.imei, lastPort: this.path });
    // the number, as far as it is known without the network, before the sweep tags messages with it
    const numbered = this.#at === at && (await this.#learnNumber(knownOwnNumber));
    if (this.#at !== at) return;
    this.#failures = 0;
    this.#setState(isRegistered(this.#info.registration) ? "ready" : "not-registered", isRegistered(this.#info.registration) ? undefined : `registration: ${this.#info.registration}`);
    // stored while the hub was down, or lost URCs: take them before anything slow
    const swept = await this.#intake.sweep();
    if (this.#at !== at) return;
    if (swept) this.#o.onSwept?.(iccid);
    if (!numbered) await this.#learnNumber(ussdOwnNumber);
    if (this.#at === at) this.#armTimers();
  }

  /** Learns the SIM's own number with `how`; true when found (and recorded for the ICCID). */
  async #learnNumber(how: (context: OwnNumberContext) => Promise<OwnNumber | undefined>): Promise<boolean> {
    const at = this.#at;
    const iccid = this.#info.iccid;
    if (!at || !iccid || !this.#identified) return false;
    const registered = isRegistered(this.#info.registration);
    const found = await how({
      at,
      config: this.#o.config,
      iccid,
      country: this.#info.country,
      operator: registered ? this.#info.operator : undefined, // USSD needs the network
      portMsisdn: this.#o.override.msisdn,
      known: await this.#o.sims.get(iccid),
      log: this.#log,
      timeoutMs: this.#timeoutMs,
    });
    if (this.#at !== at || this.#info.iccid !== iccid) return false; // another connection or SIM by now
    if (!found) {
      if (how !== knownOwnNumber) this.#log.warn({ iccid, operator: this.#info.operator }, "own number unknown: set modems.numbers or modems.ussd");
      return false;
    }
    await this.#o.sims.seen(iccid, { msisdn: found.msisdn, msisdnSource: found.source });
    if (found.msisdn !== this.#info.msisdn) this.#update({ msisdn: found.msisdn });
    return true;
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
      if (next === "ready" && !this.#info.msisdn) void this.#learnNumber(resolveOwnNumber).catch((error: unknown) => this.#log.warn({ err: error }, "learning the own number failed"));
    }
  }

  #onUrc(urc: Urc): void {
    if (urc.type === "creg") this.#applyStatus(this.#info.signalDbm, urc.stat);
    else this.#intake.onUrc(urc);
  }

  #onPortClosed(at: AtPort, reason: string): void {
    if (this.#at !== at || this.#stopped) return;
    this.#at = undefined;
    this.#identified = false;
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
    const atMs = Math.min(2000, this.#timeoutMs);
    const answers = async (port: AtPort | undefined, wait = 2000) => {
      if (!port?.isOpen) return false;
      await port.flush(200, wait);
      return port.command("AT", { timeoutMs: atMs }).then(
        () => true,
        () => false,
      );
    };
    if (await answers(at)) return this.#connectAgain("flush");
    if (at?.isOpen) {
      // radio off and on can take a while: commandTimeoutSeconds (10 s by default) each
      // sent without the resync marker first: a hung modem answers no marker, and this is what may wake it
      await at.command("AT+CFUN=0", { timeoutMs: this.#timeoutMs, unsynced: true }).catch(() => undefined);
      await at.command("AT+CFUN=1", { timeoutMs: this.#timeoutMs, unsynced: true }).catch(() => undefined);
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
    const delay = backoffMs(this.#failures, 1000, this.#o.config.maxBackoffSeconds * 1000);
    this.#failures++;
    this.#log.info({ state: this.#info.state, retryInMs: delay }, "connecting again later");
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
    this.#identified = false;
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
