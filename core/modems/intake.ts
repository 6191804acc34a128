import type { EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import type { SmsMessage } from "../types.ts";
import { AtCommandError, type AtPort } from "./at.ts";
import type { AcceptOutcome, PartInput, PartStore } from "./parts.ts";
import { parseCmgl, parseCmgr, parseCpms, type ListedPdu } from "./responses.ts";
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

type ListedSlot = Pick<ListedPdu, "index" | "pdu" | "mismatch">;

export interface SweepResult {
  listed: number;
  messages: number;
  duplicates: number;
  quarantined: number;
  /** Slots whose header came without any PDU line: nothing persisted, left on the SIM (re-read later). */
  kept: number;
  storage?: { used: number; total: number };
}

/**
 * Deletions chained on one command line (`AT+CMGD=1;+CMGD=2;...`): about 80
 * characters, well inside the command line buffer of common modems.
 */
const CMGD_PER_LINE = 8;

/**
 * Durable intake for one modem: slots are read (on +CMTI or by the storage
 * sweep) with verified reads (the reply proven to be the read's own, see
 * `sync.ts`), their PDUs written to the store in one synced batch, and only
 * then deleted with AT+CMGD, and only the slots whose content is on disk.
 * Slots announced while the modem is busy are read together (one AT+CMGL=4
 * instead of one AT+CMGR each), persisted in one batch and deleted with
 * chained AT+CMGD lines. Reads of one modem run one after another; nothing
 * here waits on another modem. SMS delivered directly (+CMT) are persisted
 * and then acknowledged.
 */
export class Intake {
  readonly #target: IntakeTarget;
  readonly #options: IntakeOptions;
  #chain: Promise<unknown> = Promise.resolve();
  #sweepQueued = false;
  #stopped = false;
  /** Slots announced by +CMTI and not read yet. */
  readonly #announced = new Set<number>();
  /** The queued read of the announced slots (joined by later +CMTI until it starts). */
  #read: Promise<void> | undefined;
  /** Cleared once the modem refuses a chained AT+CMGD line: one slot per line from then on. */
  #chainDeletes = true;
  /** A re-read was asked for because a slot's content could not be trusted; it does not ask for another. */
  #confirming = false;
  /** Per port: whether +CMT needs AT+CNMA (AT+CSMS? service 1, "phase 2+"). */
  readonly #ackNeeded = new WeakMap<AtPort, Promise<boolean>>();

  constructor(target: IntakeTarget, options: IntakeOptions) {
    this.#target = target;
    this.#options = options;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** The AT port's unsolicited lines: +CMTI reads the slot, storage full sweeps, +CMT is persisted. */
  onUrc(urc: Urc): void {
    if (urc.type === "cmti") void this.readSlot(urc.index);
    else if (urc.type === "memfull") {
      this.#options.log.warn({ storage: urc.storage }, "modem reports message storage full; sweeping");
      void this.sweep();
    } else if (urc.type === "cmt") {
      void this.#direct(urc.pdu);
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Reads a slot announced by +CMTI. Slots announced before the read starts
   * (in the same chunk from the port, or while the modem was busy with an
   * earlier command) join it: one slot is read with AT+CMGR, several with one
   * AT+CMGL=4. The read does not wait for more: a lone SMS is read at once.
   * Slots announced while it was being read (typically the next part of a
   * concatenated message) are read right after it, and all go to disk in one
   * batch.
   */
  readSlot(index: number): Promise<void> {
    this.#announced.add(index);
    this.#read ??= this.#serial(async () => {
      this.#read = undefined; // from here on, a new +CMTI queues the next read
      const slots = this.#takeAnnounced();
      const at = this.#port();
      if (!at || slots.length === 0) return; // a sweep after the reconnect finds them
      let listed: ListedSlot[];
      try {
        listed = await this.#readSlots(at, slots);
      } catch (error) {
        this.#failed(error, slots, true);
        return;
      }
      const more = this.#takeAnnounced();
      if (more.length > 0) {
        try {
          const bySlot = new Map(listed.map((slot) => [slot.index, slot]));
          for (const slot of await this.#readSlots(at, more)) bySlot.set(slot.index, slot);
          listed = [...bySlot.values()];
        } catch (error) {
          this.#failed(error, more, true); // what was read first is still taken; the sweep finds the rest
        }
      }
      try {
        await this.#take(at, listed);
      } catch (error) {
        this.#failed(error, listed.map((slot) => slot.index));
      }
    });
    return this.#read;
  }

  #takeAnnounced(): number[] {
    const slots = [...this.#announced];
    this.#announced.clear();
    return slots;
  }

  /** One slot with AT+CMGR (empty: already taken by a sweep), several with one AT+CMGL=4; both verified. */
  async #readSlots(at: AtPort, slots: readonly number[]): Promise<ListedSlot[]> {
    if (slots.length === 1) {
      const index = slots[0] as number;
      const read = parseCmgr(await at.command(`AT+CMGR=${index}`, { timeoutMs: this.#options.timeoutMs, verified: true }));
      return read ? [{ index, ...read }] : [];
    }
    return this.#list(at);
  }

  async #list(at: AtPort): Promise<ListedSlot[]> {
    return parseCmgl(await at.command("AT+CMGL=4", { timeoutMs: this.#listTimeoutMs, verified: true }));
  }

  get #listTimeoutMs(): number {
    return Math.max(this.#options.timeoutMs, 30_000);
  }

  /**
   * Lists every stored message (AT+CMGL=4) and takes them all; then reads the
   * storage counters. A sweep asked for while one is queued joins it.
   */
  sweep(): Promise<SweepResult | undefined> {
    if (this.#sweepQueued) return this.#chain.then(() => undefined);
    this.#sweepQueued = true;
    return this.#serial(async () => {
      this.#sweepQueued = false;
      const at = this.#port();
      if (!at) return undefined;
      // everything announced so far is stored already, so the listing below includes it
      this.#announced.clear();
      const result: SweepResult = { listed: 0, messages: 0, duplicates: 0, quarantined: 0, kept: 0 };
      try {
        const listed = await this.#list(at);
        result.listed = listed.length;
        const outcomes = await this.#take(at, listed);
        for (const outcome of outcomes) {
          if (outcome === undefined) result.kept++;
          else if (outcome.kind === "message") result.messages++;
          else if (outcome.kind === "duplicate") result.duplicates++;
          else if (outcome.kind === "quarantined") result.quarantined++;
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

  /**
   * Persist (one synced batch for every slot read), announce, then delete the
   * slots whose content is on disk. A slot whose PDU line was missing is not
   * persisted and not deleted; one newly quarantined (undecodable, or a line
   * that does not match the header) is kept raw but deleted only once a re-read
   * shows the same line (then a duplicate): the intake asks for that re-read
   * once. A failed delete is harmless: the next sweep finds the slot again as a
   * duplicate. Outcomes are in the order of `listed` (undefined: not persisted).
   */
  async #take(at: AtPort, listed: readonly ListedSlot[]): Promise<(AcceptOutcome | undefined)[]> {
    if (listed.length === 0) return [];
    const { iccid, imei, msisdn } = this.#target.identity();
    if (!iccid) throw new Error("SIM identity unknown");
    const readable = listed.filter((slot): slot is ListedSlot & { pdu: string } => slot.pdu !== undefined);
    const accepted = await this.#options.parts.acceptMany(
      iccid,
      readable.map(({ index, pdu, mismatch }): Omit<PartInput, "iccid"> => ({
        slot: index,
        raw: pdu,
        ...(mismatch ? { suspect: "the line read does not have the length its header gives" } : {}),
        ...(imei ? { imei } : {}),
        ...(msisdn ? { msisdn } : {}),
      })),
    );
    const bySlot = new Map(readable.map((slot, i) => [slot, accepted[i]]));
    const outcomes = listed.map((slot) => bySlot.get(slot as ListedSlot & { pdu: string }));
    this.#announce(outcomes);
    const safe = listed.filter((_, i) => {
      const kind = outcomes[i]?.kind;
      return kind === "message" || kind === "part" || kind === "duplicate";
    });
    await this.#delete(at, safe.map((slot) => slot.index));
    const kept = listed.filter((slot) => !safe.includes(slot));
    if (kept.length > 0) {
      this.#options.log.warn({ slots: kept.map((slot) => slot.index) }, "slots kept on the SIM: what was read there is not known to be a whole PDU; re-reading");
      if (!this.#confirming) {
        this.#confirming = true;
        void this.sweep().finally(() => {
          this.#confirming = false;
        });
      }
    }
    return outcomes;
  }

  #announce(outcomes: readonly (AcceptOutcome | undefined)[]): void {
    const messages: SmsMessage[] = [];
    for (const outcome of outcomes) if (outcome?.kind === "message") messages.push(outcome.message);
    const last = messages[messages.length - 1];
    if (last) this.#target.received(last);
    for (const message of messages) this.#options.bus.emit("sms.received", { message });
  }

  /** Deletes slots whose content is on disk, several per command line while the modem accepts chains. */
  async #delete(at: AtPort, slots: readonly number[]): Promise<void> {
    for (let i = 0; i < slots.length; ) {
      const line = slots.slice(i, i + (this.#chainDeletes ? CMGD_PER_LINE : 1));
      i += line.length;
      try {
        await at.command(`AT${line.map((slot) => `+CMGD=${slot}`).join(";")}`, { timeoutMs: this.#options.timeoutMs + 1000 * (line.length - 1) });
      } catch (error) {
        if (line.length > 1 && error instanceof AtCommandError) {
          // Part of the chain may have run and a freed slot may already hold a new
          // message: nothing is deleted again unread. The sweep re-reads what is left.
          this.#chainDeletes = false;
          this.#options.log.warn({ err: error, slots: line }, "chained AT+CMGD refused; deleting one slot per command from now on");
          void this.sweep();
        } else {
          this.#options.log.warn({ err: error, slots: line }, "AT+CMGD failed; the next sweep retries");
        }
      }
    }
  }

  /**
   * An SMS delivered directly (+CMT): never stored on the SIM, so it is
   * persisted first (no slot) and only then acknowledged with AT+CNMA, when
   * the modem expects that (AT+CSMS? service 1). Unacknowledged, a phase 2+
   * network delivers it again later, where the fingerprint makes it a
   * duplicate.
   */
  async #direct(pdu: string): Promise<void> {
    const log = this.#options.log;
    const { iccid, imei, msisdn } = this.#target.identity();
    if (!iccid) {
      log.error("SMS delivered directly (+CMT) before the SIM is known: not acknowledged, so the network delivers it again");
      return;
    }
    try {
      const outcomes = await this.#options.parts.acceptMany(iccid, [{ raw: pdu, ...(imei ? { imei } : {}), ...(msisdn ? { msisdn } : {}) }]);
      this.#announce(outcomes);
    } catch (error) {
      log.error({ err: error }, "persisting an SMS delivered directly (+CMT) failed; not acknowledged");
      return;
    }
    const at = this.#port();
    if (!at || !(await this.#needsAck(at))) return;
    await at.command("AT+CNMA", { timeoutMs: this.#options.timeoutMs }).catch((error: unknown) => log.warn({ err: error }, "AT+CNMA failed: the network may deliver that SMS again"));
  }

  #needsAck(at: AtPort): Promise<boolean> {
    let known = this.#ackNeeded.get(at);
    if (!known) {
      known = at.command("AT+CSMS?", { timeoutMs: this.#options.timeoutMs }).then(
        (lines) => lines.some((line) => /^\+CSMS:\s*1\s*,/.test(line)),
        () => false,
      );
      this.#ackNeeded.set(at, known);
    }
    return known;
  }

  /**
   * A read or sweep failed; nothing was deleted. Storage full sweeps; a failed
   * read of announced slots (timeout, a reply not its own) re-reads them with a
   * sweep at once (after the port's resync) rather than at the next period.
   */
  #failed(error: unknown, slots?: readonly number[], reread = false): void {
    if (error instanceof AtCommandError && error.errorCode === CMS_MEMORY_FULL) {
      void this.sweep();
      return;
    }
    this.#options.log.warn({ err: error, slots }, reread ? "reading stored SMS failed; sweeping" : "reading stored SMS failed");
    if (reread) void this.sweep();
  }
}
