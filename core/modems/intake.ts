import type { EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import type { SmsMessage } from "../types.ts";
import { AtCommandError, type AtPort } from "./at.ts";
import type { PartStore } from "./parts.ts";
import { parseCmgl, parseCmgr, parseCpms } from "./responses.ts";
import type { Urc } from "./urc.ts";

/** +CMS ERROR 322: memory full (TS 27.005 §3.2.5). */
const CMS_MEMORY_FULL = 322;

export interface IntakeTarget {
  /** The port to read from; undefined while the modem is down. */
  at(): AtPort | undefined;
  /** The SIM and modem the messages belong to. */
  identity(): { iccid?: string; imei?: string; msisdn?: string };
  storage(used: number, total: number): void;
  received(message: SmsMessage): void;
}

export interface IntakeOptions {
  parts: PartStore;
  bus: EventBus;
  log: Logger;
  timeoutMs: number;
}

export interface SweepResult {
  listed: number;
  messages: number;
  duplicates: number;
  quarantined: number;
  storage?: { used: number; total: number };
}

/**
 * Durable intake for one modem: a slot is read (on +CMTI or by the storage
 * sweep), its PDU written to the store in a synced batch, and only then
 * deleted with AT+CMGD. Reads of one modem run one after another; nothing here
 * waits on another modem.
 */
export class Intake {
  readonly #target: IntakeTarget;
  readonly #options: IntakeOptions;
  #chain: Promise<unknown> = Promise.resolve();
  #sweepQueued = false;
  #stopped = false;

  constructor(target: IntakeTarget, options: IntakeOptions) {
    this.#target = target;
    this.#options = options;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** The AT port's unsolicited lines: +CMTI reads the slot, storage full sweeps. */
  onUrc(urc: Urc): void {
    if (urc.type === "cmti") void this.readSlot(urc.index);
    else if (urc.type === "memfull") {
      this.#options.log.warn({ storage: urc.storage }, "modem reports message storage full; sweeping");
      void this.sweep();
    } else if (urc.type === "cmt") {
      this.#options.log.error("modem delivered an SMS directly (+CMT, CNMI mt=2), which simhive never configures; it cannot be acknowledged durably");
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Reads one slot (after +CMTI). */
  readSlot(index: number): Promise<void> {
    return this.#serial(async () => {
      const at = this.#port();
      if (!at) return;
      try {
        const read = parseCmgr(await at.command(`AT+CMGR=${index}`, { timeoutMs: this.#options.timeoutMs }));
        if (!read) return; // empty slot: already taken by a sweep
        await this.#take(at, index, read.pdu);
      } catch (error) {
        this.#failed(error, index);
      }
    });
  }

  /**
   * Lists every stored message (AT+CMGL=4) and takes each; then reads the
   * storage counters. A sweep asked for while one is queued joins it.
   */
  sweep(): Promise<SweepResult | undefined> {
    if (this.#sweepQueued) return this.#chain.then(() => undefined);
    this.#sweepQueued = true;
    return this.#serial(async () => {
      this.#sweepQueued = false;
      const at = this.#port();
      if (!at) return undefined;
      const result: SweepResult = { listed: 0, messages: 0, duplicates: 0, quarantined: 0 };
      try {
        const listed = parseCmgl(await at.command("AT+CMGL=4", { timeoutMs: Math.max(this.#options.timeoutMs, 30_000) }));
        result.listed = listed.length;
        for (const { index, pdu } of listed) {
          const outcome = await this.#take(at, index, pdu);
          if (outcome === "message") result.messages++;
          else if (outcome === "duplicate") result.duplicates++;
          else if (outcome === "quarantined") result.quarantined++;
        }
        const storage = parseCpms(await at.command("AT+CPMS?", { timeoutMs: this.#options.timeoutMs }));
        if (storage) {
          result.storage = storage;
          this.#target.storage(storage.used, storage.total);
          if (storage.used >= storage.total) this.#options.log.error({ ...storage }, "message storage still full after a sweep");
        }
      } catch (error) {
        this.#failed(error);
      }
      return result;
    });
  }

  #port(): AtPort | undefined {
    if (this.#stopped) return undefined;
    const at = this.#target.at();
    return at?.isOpen ? at : undefined;
  }

  /** Persist, then delete. A failed delete is harmless: the next sweep finds the slot again as a duplicate. */
  async #take(at: AtPort, index: number, pdu: string): Promise<string> {
    const { iccid, imei, msisdn } = this.#target.identity();
    if (!iccid) throw new Error("SIM identity unknown");
    const outcome = await this.#options.parts.accept({ iccid, slot: index, raw: pdu, ...(imei ? { imei } : {}), ...(msisdn ? { msisdn } : {}) });
    if (outcome.kind === "message") {
      this.#target.received(outcome.message);
      this.#options.bus.emit("sms.received", { message: outcome.message });
    }
    try {
      await at.command(`AT+CMGD=${index}`, { timeoutMs: this.#options.timeoutMs });
    } catch (error) {
      this.#options.log.warn({ err: error, slot: index }, "AT+CMGD failed; the next sweep retries");
    }
    return outcome.kind;
  }

  #failed(error: unknown, slot?: number): void {
    if (error instanceof AtCommandError && error.errorCode === CMS_MEMORY_FULL) {
      void this.sweep();
      return;
    }
    this.#options.log.warn({ err: error, slot }, "reading stored SMS failed");
  }
}
