import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { isUnsolicited, parseUrc, type Urc } from "./urc.ts";

/**
 * The adapter around serialport-gsm: the rest of simhive sees a small typed,
 * promise-based port (`open`, `command`, `close`, `urc` events), never the
 * library's callbacks. serialport-gsm owns the serial port and its command
 * queue; this class supplies what it lacks (README "serialport-gsm: limits and
 * workarounds"): a reply collector that ends on any final result code, a
 * timeout of our own per command, unsolicited lines recognised anywhere, and
 * none of its automatic reading, deleting or joining of messages.
 */

/** A serialport class: `SerialPort` from `serialport`, or the emulator's `EmulatedSerialPort`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PortClass = new (...args: any[]) => unknown;

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

/** The part of serialport-gsm's modem object this adapter uses. */
interface GsmModem {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  isOpened: boolean;
  queue: GsmItem[];
  open(path: string, options: Record<string, unknown>, callback: (error: Error | null) => void): void;
  close(callback: (error: Error | null) => void): void;
  executeCommand(
    command: string,
    callback: (result: unknown, error?: Error) => void,
    priority: boolean,
    timeout: number,
    messageId?: undefined,
    message?: undefined,
    recipient?: undefined,
    activateProcessing?: boolean,
  ): GsmItem | Record<string, never>;
  addListener(listener: { match(line: string): boolean; process(line: string): void }): void;
  dataReceived(buffer: Buffer): void;
  checkSimMemory: (...args: unknown[]) => unknown;
  readSMSById: (...args: unknown[]) => unknown;
}

interface GsmItem extends EventEmitter {
  id: number;
  command: string;
  logic?: (line: string) => { resultData: unknown; returnResult: boolean } | undefined;
}

type GsmFactory = new (portClass: PortClass) => GsmModem;
const require = createRequire(import.meta.url);
const createGsm = require("serialport-gsm/lib/functions/modem") as GsmFactory;

const FINAL_OK = /^OK$/;
const FINAL_ERROR = /^(?:ERROR|\+CME ERROR:.*|\+CMS ERROR:.*|NO CARRIER|COMMAND NOT SUPPORT|TOO MANY PARAMETERS)$/;

interface Pending {
  command: string;
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
  readonly #gsm: GsmModem;
  readonly #pending: Pending[] = [];
  #open = false;
  #closed = false;
  #expectCmtPdu = false;
  #lastRxAt = 0;
  /** A command timed out: its late reply may still arrive, so the next command first waits for quiet. */
  #stale = false;
  /** Lines received that were neither a reply nor a known URC (noise, late replies). */
  strayLines = 0;

  constructor(options: AtPortOptions) {
    super();
    this.path = options.path;
    this.#options = options;
    this.#log = options.log;
    this.#gsm = new createGsm(options.portClass);
    // serialport-gsm's own reactions would issue commands behind our back:
    // ^SMMEMFULL → AT+CPMS="SM" (changes storage, never completes with echo off),
    // +CMTI → AT+CMGR + in-RAM joining. Both are replaced by the intake.
    this.#gsm.checkSimMemory = () => undefined;
    this.#gsm.readSMSById = () => undefined;
    this.#gsm.on("error", (event: unknown) => this.#log.debug({ port: this.path, event }, "serial port error"));
    this.#gsm.on("close", () => this.#onClose("port closed"));
    this.#gsm.addListener({ match: () => true, process: (line) => this.#onLine(line) });
  }

  get isOpen(): boolean {
    return this.#open && !this.#closed;
  }

  /** Milliseconds since the last byte arrived (Infinity if none). */
  get quietForMs(): number {
    return this.#lastRxAt === 0 ? Infinity : Date.now() - this.#lastRxAt;
  }

  async open(): Promise<void> {
    if (this.#closed) throw new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: this AtPort was closed; open a new one`);
    const timeoutMs = this.#options.openTimeoutMs ?? 5000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${this.path}: open did not finish within ${timeoutMs} ms`)), timeoutMs);
      this.#gsm.open(
        this.path,
        {
          baudRate: this.#options.baudRate ?? 115200,
          // never: the library's read-on-+CMTI, delete-on-receive and RAM joining
          incomingSMSIndication: false,
          incomingCallIndication: false,
          autoOpen: true,
          // the stream's read buffer: AT replies are short (a full CMGL is a few kB, read in turns);
          // the default 64 KiB per port is 4 MiB of buffers for 64 modems
          highWaterMark: 4096,
        },
        (error) => {
          clearTimeout(timer);
          if (error) reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: cannot open: ${error.message}`, { cause: error }));
          else resolve();
        },
      );
    });
    this.#open = true;
    // serialport-gsm counts bytes only through lines; note raw arrival for quiet detection
    const port = (this.#gsm as unknown as { port?: EventEmitter }).port;
    port?.on("data", () => {
      this.#lastRxAt = Date.now();
    });
  }

  /**
   * Sends one command line (without CR) and resolves with its information
   * lines once OK arrives; rejects with AtCommandError on ERROR/+CME/+CMS and
   * SIMHIVE_ERR_TIMEOUT when no final result arrives in time. Commands run one
   * at a time in order (serialport-gsm's queue); the timeout starts when the
   * command is written, not when it is queued.
   */
  command(command: string, options: CommandOptions = {}): Promise<string[]> {
    if (!this.isOpen) return Promise.reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: port not open`));
    if (/[0-9A-Fa-f]{15}/.test(command)) {
      // serialport-gsm treats any command with 15 hex digits as an SMS send and bypasses our reply collector
      return Promise.reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${command.slice(0, 12)}...: 15 hex digits in a command line are not supported by the driver`));
    }
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 5000;
    return new Promise<string[]>((resolve, reject) => {
      const pending: Pending = { command, timeoutMs, lines: [], started: false, settled: false, resolve, reject };
      const run = () => this.#enqueue(pending);
      if (this.#stale && this.#pending.length === 0) {
        this.#stale = false;
        this.flush().then(run, run);
      } else {
        run();
      }
    });
  }

  #enqueue(pending: Pending): void {
    if (!this.isOpen) {
      pending.settled = true;
      pending.reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: port not open`));
      return;
    }
    this.#pending.push(pending);
    // backstop for serialport-gsm's own timer; ours fires first and ends the item
    const item = this.#gsm.executeCommand(pending.command, () => undefined, false, pending.timeoutMs + 60_000, undefined, undefined, undefined, true);
    if (!("id" in item)) {
      this.#settle(pending, new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: port not open`));
      return;
    }
    pending.item = item as GsmItem;
    item.logic = () => (pending.settled ? { resultData: null, returnResult: true } : undefined);
    item.once("start", () => {
      pending.started = true;
      pending.timer = setTimeout(() => {
        this.#stale = true;
        this.#settle(pending, new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${this.path}: ${pending.command} got no final result within ${pending.timeoutMs} ms`));
      }, pending.timeoutMs);
    });
  }

  /**
   * Ends `pending` (resolve with lines or reject). From a received line,
   * serialport-gsm's own pass over that line then sees the item done and moves
   * on; otherwise (timeout, close) an empty line is fed to it so that it
   * clears its timer, drops the item and writes the next one.
   */
  #settle(pending: Pending, error?: Error, fromLine = false): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    const at = this.#pending.indexOf(pending);
    if (at >= 0) this.#pending.splice(at, 1);
    if (error) pending.reject(error);
    else pending.resolve(pending.lines);
    if (fromLine) return;
    if (pending.started && this.#gsm.queue[0] === pending.item) {
      this.#gsm.dataReceived(Buffer.from("\r\n"));
    } else if (pending.item) {
      const index = this.#gsm.queue.indexOf(pending.item);
      if (index > 0) this.#gsm.queue.splice(index, 1);
    }
  }

  #current(): Pending | undefined {
    const head = this.#pending[0];
    return head?.started ? head : undefined;
  }

  #onLine(raw: string): void {
    const line = raw.trim();
    if (line === "") return;
    const current = this.#current();
    if (this.#expectCmtPdu) {
      this.#expectCmtPdu = false;
      if (/^[0-9A-Fa-f]+$/.test(line)) {
        this.emit("urc", { type: "cmt", pdu: line });
        return;
      }
    }
    if (isUnsolicited(line, current?.command)) {
      const urc = parseUrc(line);
      if (urc.type === "cmt") {
        this.#expectCmtPdu = true;
        return;
      }
      this.emit("urc", urc);
      return;
    }
    if (!current) {
      this.strayLines++;
      return;
    }
    if (line === current.command) return; // echo (before ATE0)
    if (FINAL_OK.test(line)) {
      this.#settle(current, undefined, true);
    } else if (FINAL_ERROR.test(line)) {
      this.#settle(current, new AtCommandError(current.command, line), true);
    } else {
      current.lines.push(line);
    }
  }

  /**
   * Waits until the line has been quiet for `quietMs` (at most `maxMs`) with
   * nothing in flight, so that a late reply to a timed-out command cannot be
   * taken for the next command's; then ends any partial line in the buffer.
   */
  async flush(quietMs = 200, maxMs = 2000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && this.quietForMs < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, quietMs - this.quietForMs)));
    }
    if (this.isOpen && this.#gsm.queue.length === 0) this.#gsm.dataReceived(Buffer.from("\r\n"));
  }

  #onClose(reason: string): void {
    if (this.#closed || !this.#open) return;
    this.#closed = true;
    this.#gsm.queue.splice(1); // nothing more may be written
    for (const pending of [...this.#pending]) {
      this.#settle(pending, new SimhiveError("SIMHIVE_ERR_MODEM", `${this.path}: ${reason} while ${pending.command} was in flight`));
    }
    this.emit("close", reason);
  }

  /** Closes the port; pending commands are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const wasOpen = this.#open;
    this.#onClose("closed");
    this.#closed = true;
    if (!wasOpen) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.#gsm.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
