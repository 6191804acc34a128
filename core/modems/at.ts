import { EventEmitter } from "node:events";
import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { GsmDriver, type GsmItem, type PortClass } from "./gsm.ts";
import { isPduLine } from "./pdu/index.ts";
import { checkMarked, isForeign, looksUnsolicited, MARKERS, replyPrefix, type Marker } from "./sync.ts";
import { askedPrefixes, isUnsolicited, parseUrc, type Urc } from "./urc.ts";

/**
 * The adapter around serialport-gsm: the rest of simhive sees a small typed,
 * promise-based port (`open`, `command`, `close`, `urc` events), never the
 * library's callbacks. serialport-gsm owns the serial port and writes the
 * commands (`gsm.ts`); this class supplies what it lacks (README
 * "serialport-gsm: limits and workarounds"): its own queue (a command is
 * handed to the library only when it is its turn), a reply collector that
 * ends on any final result code, a timeout of our own per command,
 * unsolicited lines recognised anywhere, and replies kept in step with their
 * commands (`sync.ts`).
 */

export type { PortClass } from "./gsm.ts";

export interface AtPortOptions {
  path: string;
  portClass: PortClass;
  baudRate?: number;
  log: Logger;
  /** Per-command timeout unless the command says otherwise. */
  timeoutMs?: number;
  /** How long `open()` may take. */
  openTimeoutMs?: number;
}

export interface CommandOptions {
  timeoutMs?: number;
  /**
   * The reply decides something that cannot be undone (the intake deletes
   * what a read showed): a marker is chained to the line and the reply is
   * accepted only if it ends with that marker's answer (`sync.ts`).
   */
  verified?: boolean;
  /**
   * Sent even while replies may be out of step, without the resync marker
   * round trip first: recovery commands for a modem that answers nothing
   * (`AT+CFUN=0` must reach a hung modem), whose reply decides nothing.
   * The port stays out of step for the commands after it.
   */
  unsynced?: boolean;
}

export interface AtPortEvents {
  urc: [urc: Urc];
  /** The port closed: unplugged, failed, or `close()`d. Emitted once. */
  close: [reason: string];
}

/** A command answered with ERROR, +CME ERROR or +CMS ERROR. */
export class AtCommandError extends SimhiveError {
  readonly command: string;
  /** The final result line, e.g. `+CMS ERROR: 322`. */
  readonly final: string;
  /** The number of a +CME/+CMS ERROR, when numeric. */
  readonly errorCode: number | undefined;

  constructor(command: string, final: string) {
    super("SIMHIVE_ERR_MODEM", `${command} failed: ${final}`);
    this.name = "AtCommandError";
    this.command = command;
    this.final = final;
    const match = /^\+CM[ES] ERROR:\s*(\d+)/.exec(final);
    this.errorCode = match ? Number(match[1]) : undefined;
  }
}

const FINAL_OK = /^OK$/;
const FINAL_ERROR = /^(?:ERROR|\+CME ERROR:.*|\+CMS ERROR:.*|NO CARRIER|COMMAND NOT SUPPORT|TOO MANY PARAMETERS)$/;
/** +CMS ERROR 322, memory full (TS 27.005 §3.2.5): some modems send it on their own when an SMS finds the storage full. */
const MEMORY_FULL = /^\+CMS ERROR:\s*(?:322|memory full)$/i;
/** Commands whose own reply may be +CMS ERROR 322; for any other, that line is unsolicited. */
const SMS_STORAGE_COMMAND = /\+CMG[RLDWS]|\+CMSS|\+CPMS|\+CNMA/i;

interface Pending {
  /** The command as the caller gave it. */
  command: string;
  /** The line written: the command, with a marker chained when verified; the marker alone for a resync. */
  line: string;
  marker?: Marker;
  /** Reply prefixes the line asks for (`askedPrefixes`), computed once. */
  asked?: readonly string[];
  /** A resync: every line is dropped until the marker's answer and a final. */
  resync: boolean;
  /** Resync: the marker's answer seen since the last final. */
  proof: boolean;
  /** A line answering another command arrived in this reply. */
  foreign: boolean;
  /** Written without a resync first (`CommandOptions.unsynced`). */
  unsynced?: boolean;
  timeoutMs: number;
  lines: string[];
  started: boolean;
  settled: boolean;
  timer?: NodeJS.Timeout;
  item?: GsmItem;
  resolve(lines: string[]): void;
  reject(error: Error): void;
}

/**
 * One open serial port to one modem interface. Single use: after `close()`
 * (or the port going away) make a new one; a fresh serialport-gsm instance per
 * open keeps its stale timers from touching a later queue.
 */
export class AtPort extends EventEmitter<AtPortEvents> {
  readonly path: string;
  readonly #options: AtPortOptions;
  readonly #log: Logger;
  readonly #gsm: GsmDriver;
  /** Commands waiting for their turn (not yet handed to serialport-gsm). */
  readonly #queue: Pending[] = [];
  /** The command handed to serialport-gsm (written, or about to be). */
  #inFlight: Pending | undefined;
  #open = false;
  #closed = false;
  /** Replies are known to be in step with commands; cleared by any sign of a late or forged reply. */
  #synced = true;
  #resyncing = false;
  #markerTurn = 0;
  /** A `+CMT:` header was seen: the PDU line that matches its length follows within a few lines. */
  #cmt: { length: number | undefined; linesLeft: number } | undefined;
  /** Lines received that were neither a reply nor a known URC (noise, late replies). */
  strayLines = 0;
  /** Times the port found a reply out of step and resynchronised. */
  resyncs = 0;

  constructor(options: AtPortOptions) {
    super();
    this.path = options.path;
    this.#options = options;
    this.#log = options.log;
    this.#gsm = new GsmDriver(options.portClass, {
      line: (line) => this.#onLine(line),
      close: () => this.#onClose("port closed"),
      error: (event) => this.#log.debug({ port: this.path, event }, "serial port error"),
    });
  }

  get isOpen(): boolean {
    return this.#open && !this.#closed;
  }

  /** Whether replies are known to be in step (false until the next resync after a timeout or a stray reply). */
  get inSync(): boolean {
    return this.#synced;
  }

  /** Milliseconds since the last byte arrived (Infinity if none). */
  get quietForMs(): number {
    return this.#gsm.quietForMs;
  }

  async open(): Promise<void> {
    if (this.#closed) throw new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: this AtPort was closed; open a new one`);
    await this.#gsm.open(this.path, this.#options.baudRate ?? 115200, this.#options.openTimeoutMs ?? 5000);
    this.#open = true;
  }

  /**
   * Sends one command line (without CR) and resolves with its information
   * lines once OK arrives; rejects with AtCommandError on ERROR/+CME/+CMS and
   * SIMHIVE_ERR_TIMEOUT when no final result arrives in time. Commands run one
   * at a time in order; the timeout starts when the command is written, not
   * when it is queued. After a timeout or a stray reply the next command waits
   * for a resync (a marker round trip that drops every late line).
   */
  command(command: string, options: CommandOptions = {}): Promise<string[]> {
    if (!this.isOpen) return Promise.reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: port not open`));
    if (/[0-9A-Fa-f]{15}/.test(command)) {
      // serialport-gsm treats any command with 15 hex digits as an SMS send and bypasses our reply collector
      return Promise.reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${command.slice(0, 12)}...: 15 hex digits in a command line are not supported by the driver`));
    }
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 5000;
    return new Promise<string[]>((resolve, reject) => {
      const pending = this.#pendingFor(command, timeoutMs, resolve, reject);
      if (options.verified) {
        pending.marker = this.#nextMarker();
        pending.line = `${command};${pending.marker.command}`;
      }
      pending.unsynced = options.unsynced === true;
      this.#queue.push(pending);
      this.#pump();
    });
  }

  #pendingFor(command: string, timeoutMs: number, resolve: Pending["resolve"], reject: Pending["reject"]): Pending {
    return { command, line: command, resync: false, proof: false, foreign: false, timeoutMs, lines: [], started: false, settled: false, resolve, reject };
  }

  #nextMarker(): Marker {
    const marker = MARKERS[this.#markerTurn % MARKERS.length] as Marker;
    this.#markerTurn++;
    return marker;
  }

  /** Hands the next command to serialport-gsm when nothing is in flight, resynchronising first if needed. */
  #pump(): void {
    if (this.#inFlight || this.#resyncing || !this.isOpen) return;
    const next = this.#queue[0];
    if (!next) return;
    if (!this.#synced && !next.unsynced) {
      void this.#resync(next);
      return;
    }
    this.#queue.shift();
    this.#write(next);
  }

  /**
   * Waits for a quiet line, then sends a marker and drops every line until its
   * answer: late replies end up dropped, never taken for a command's. If the
   * marker gets no answer in `head`'s time, `head` fails as if it had timed out.
   */
  async #resync(head: Pending): Promise<void> {
    this.#resyncing = true;
    this.resyncs++;
    try {
      await this.flush(200, 2000);
      if (!this.isOpen) return;
      const marker = this.#nextMarker();
      await new Promise<string[]>((resolve, reject) => {
        const pending = this.#pendingFor(`AT${marker.command}`, head.timeoutMs, resolve, reject);
        pending.marker = marker;
        pending.resync = true;
        this.#write(pending);
      });
      this.#synced = true;
    } catch (error) {
      const at = this.#queue.indexOf(head);
      if (at >= 0) {
        this.#queue.splice(at, 1);
        head.settled = true;
        head.reject(new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${this.path}: ${head.command} not sent: the modem did not answer the resync marker (${(error as Error).message})`));
      }
    } finally {
      this.#resyncing = false;
      this.#pump();
    }
  }

  #write(pending: Pending): void {
    this.#inFlight = pending;
    // backstop for serialport-gsm's own timer; ours fires first and ends the item
    const item = this.#gsm.write(pending.line, pending.timeoutMs + 60_000, () => pending.settled);
    if (!item) {
      this.#settle(pending, new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: port not open`));
      return;
    }
    pending.item = item;
    item.once("start", () => {
      pending.started = true;
      pending.timer = setTimeout(() => {
        this.#desync("timeout");
        this.#settle(pending, new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${this.path}: ${pending.command} got no final result within ${pending.timeoutMs} ms`));
      }, pending.timeoutMs);
    });
  }

  /**
   * Ends `pending` (resolve with lines or reject). From a received line,
   * serialport-gsm's own pass over that line then sees the item done and moves
   * on; otherwise (timeout, close) an empty line is fed to it so that it
   * clears its timer and drops the item. Then the next command goes.
   */
  #settle(pending: Pending, error?: Error, fromLine = false): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    if (this.#inFlight === pending) this.#inFlight = undefined;
    if (error) pending.reject(error);
    else pending.resolve(pending.lines);
    if (!fromLine && pending.item) this.#gsm.drop(pending.item, pending.started);
    if (!pending.resync) this.#pump();
  }

  #desync(reason: string): void {
    if (this.#synced) this.#log.debug({ port: this.path, reason }, "replies may be out of step; resynchronising before the next command");
    this.#synced = false;
  }

  #current(): Pending | undefined {
    const head = this.#inFlight;
    return head?.started ? head : undefined;
  }

  #onLine(raw: string): void {
    const line = raw.trim();
    if (line === "") return;
    if (this.#cmt && this.#cmtPdu(line)) return;
    const current = this.#current();
    if (line.startsWith("+CMT:")) {
      // direct delivery: the PDU line follows (TS 27.005 §3.4.1)
      const length = /,\s*(\d+)\s*$/.exec(line);
      this.#cmt = { length: length ? Number(length[1]) : undefined, linesLeft: 3 };
      return;
    }
    if (isUnsolicited(line, current?.line)) {
      this.emit("urc", parseUrc(line));
      return;
    }
    if (MEMORY_FULL.test(line) && !(current && !current.resync && SMS_STORAGE_COMMAND.test(current.line))) {
      this.emit("urc", { type: "memfull", storage: "" });
      if (!current) this.#desync("+CMS ERROR: 322 while idle");
      return;
    }
    if (!current) {
      this.#stray(line);
      return;
    }
    if (line === current.line) return; // echo (before ATE0)
    if (current.resync) {
      this.#resyncLine(current, line);
      return;
    }
    if (FINAL_OK.test(line)) this.#finish(current);
    else if (FINAL_ERROR.test(line)) this.#settle(current, new AtCommandError(current.command, line), true);
    else if (isForeign(line, (current.asked ??= askedPrefixes(current.line)))) current.foreign = true;
    else current.lines.push(line);
  }

  /** OK: the reply is the command's own unless a foreign line or a wrong marker shows otherwise. */
  #finish(current: Pending): void {
    let lines: string[] | undefined = current.foreign ? undefined : current.lines;
    if (lines && current.marker) lines = checkMarked(lines, current.marker);
    if (!lines) {
      this.#desync("a reply not the command's own");
      this.#settle(current, new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: the reply to ${current.command} was not its own (late or forged); nothing of it is used`), true);
      return;
    }
    current.lines = lines;
    this.#settle(current, undefined, true);
  }

  #resyncLine(current: Pending, line: string): void {
    if (FINAL_OK.test(line) || FINAL_ERROR.test(line)) {
      if (current.proof) this.#settle(current, undefined, true);
      return; // the end of a late reply: keep waiting for the marker's
    }
    if (current.marker && line.startsWith(current.marker.prefix)) current.proof = true;
  }

  /** A line while nothing is in flight: a vendor's unsolicited line, or a late reply. */
  #stray(line: string): void {
    if (looksUnsolicited(line)) {
      this.emit("urc", { type: "other", line });
      return;
    }
    this.strayLines++;
    this.#desync(replyPrefix(line) ? "a reply line while idle" : "a stray line");
  }

  /** The PDU line after `+CMT:`: the next hex line of the announced length. */
  #cmtPdu(line: string): boolean {
    const cmt = this.#cmt as { length: number | undefined; linesLeft: number };
    if (isPduLine(line, cmt.length)) {
      this.#cmt = undefined;
      this.emit("urc", { type: "cmt", pdu: line });
      return true;
    }
    if (--cmt.linesLeft <= 0) {
      this.#cmt = undefined;
      this.#log.warn({ port: this.path }, "+CMT without a PDU line of the announced length; the SMS is not acknowledged");
    }
    return false;
  }

  /**
   * Waits until the line has been quiet for `quietMs` (at most `maxMs`) with
   * nothing in flight; then ends any partial line in the buffer.
   */
  async flush(quietMs = 200, maxMs = 2000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && this.quietForMs < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, quietMs - this.quietForMs)));
    }
    if (this.isOpen) this.#gsm.endPartialLine();
  }

  #onClose(reason: string): void {
    if (this.#closed || !this.#open) return;
    this.#closed = true;
    this.#gsm.stopWriting();
    const pending = [...(this.#inFlight ? [this.#inFlight] : []), ...this.#queue.splice(0)];
    for (const p of pending) this.#settle(p, new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: ${reason} while ${p.command} was in flight`));
    this.emit("close", reason);
  }

  /** Closes the port; pending commands are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const wasOpen = this.#open;
    this.#onClose("closed");
    this.#closed = true;
    await this.#gsm.close(wasOpen);
  }
}
