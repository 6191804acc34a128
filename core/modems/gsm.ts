/**
 * How simhive drives serialport-gsm (4.0.1, `lib/functions/modem.js`): the
 * library owns the serial port, splits lines and writes commands; this
 * wrapper turns off its own reactions (reading, deleting and joining on
 * +CMTI, AT+CPMS on ^SMMEMFULL), feeds it the reply logic it needs to finish
 * an item with echo off, and hides its callbacks (README "serialport-gsm:
 * limits and workarounds"). `AtPort` builds the command queue on top.
 */
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { SimhiveError } from "../errors.ts";

/** A serialport class: `SerialPort` from `serialport`, or the emulator's `EmulatedSerialPort`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PortClass = new (...args: any[]) => unknown;

/** The part of serialport-gsm's modem object used here. */
interface GsmModem {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  queue: GsmItem[];
  port?: EventEmitter;
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

/** One command handed to the library. */
export interface GsmItem extends EventEmitter {
  id: number;
  command: string;
  logic?: (line: string) => { resultData: unknown; returnResult: boolean } | undefined;
}

type GsmFactory = new (portClass: PortClass) => GsmModem;
const require = createRequire(import.meta.url);
const createGsm = require("serialport-gsm/lib/functions/modem") as GsmFactory;

export interface GsmHandlers {
  /** Every line the library splits off (untrimmed). */
  line(line: string): void;
  /** The port closed (unplugged or failed). */
  close(): void;
  /** A port error (logged by the caller). */
  error(event: unknown): void;
}

/** One serialport-gsm instance (single use: a fresh one per open, so its stale timers never touch a later queue). */
export class GsmDriver {
  readonly #gsm: GsmModem;
  #lastRxAt = 0;
  /** open() gave up or close() came first: a late successful open closes the port again. */
  #abandoned = false;

  constructor(portClass: PortClass, handlers: GsmHandlers) {
    this.#gsm = new createGsm(portClass);
    // its own reactions would issue commands behind our back:
    // ^SMMEMFULL → AT+CPMS="SM" (changes storage, never completes with echo off),
    // +CMTI → AT+CMGR + in-RAM joining. The intake does both.
    this.#gsm.checkSimMemory = () => undefined;
    this.#gsm.readSMSById = () => undefined;
    this.#gsm.on("error", (event: unknown) => handlers.error(event));
    this.#gsm.on("close", () => handlers.close());
    this.#gsm.addListener({ match: () => true, process: (line) => handlers.line(line) });
  }

  /** Milliseconds since the last byte arrived (Infinity if none). */
  get quietForMs(): number {
    return this.#lastRxAt === 0 ? Infinity : Date.now() - this.#lastRxAt;
  }

  /** Nothing handed to the library is waiting. */
  get idle(): boolean {
    return this.#gsm.queue.length === 0;
  }

  /** Opens the port; if that takes longer than `timeoutMs` it rejects, and a late success closes the port again. */
  async open(path: string, baudRate: number, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#abandoned = true;
        reject(new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${path}: open did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#gsm.open(
        path,
        {
          baudRate,
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
          if (error) reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${path}: cannot open: ${error.message}`, { cause: error }));
          else if (this.#abandoned) {
            this.#gsm.close(() => undefined);
            reject(new SimhiveError("SIMHIVE_ERR_MODEM", `${path}: closed while opening`));
          } else resolve();
        },
      );
    });
    // the library counts bytes only through lines; note raw arrival for quiet detection
    this.#gsm.port?.on("data", () => {
      this.#lastRxAt = Date.now();
    });
  }

  /**
   * Hands one command line to the library: written at once (activateProcessing,
   * so its reply logic runs with echo off). `done()` tells its logic that the
   * reply is complete. Its own timer is a backstop only. Undefined when the
   * port is not open.
   */
  write(line: string, backstopMs: number, done: () => boolean): GsmItem | undefined {
    const item = this.#gsm.executeCommand(line, () => undefined, false, backstopMs, undefined, undefined, undefined, true);
    if (!("id" in item)) return undefined;
    const gsmItem = item as GsmItem;
    gsmItem.logic = () => (done() ? { resultData: null, returnResult: true } : undefined);
    return gsmItem;
  }

  /**
   * Drops an item ended without a line (timeout, close): an empty line makes
   * the library see it done, clear its timer and move on; one not started yet
   * is taken off its queue.
   */
  drop(item: GsmItem, started: boolean): void {
    if (started && this.#gsm.queue[0] === item) {
      this.#gsm.dataReceived(Buffer.from("\r\n"));
    } else {
      const index = this.#gsm.queue.indexOf(item);
      if (index >= 0) this.#gsm.queue.splice(index, 1);
    }
  }

  /** Ends a partial line in the library's buffer (when nothing is in flight). */
  endPartialLine(): void {
    if (this.#gsm.queue.length === 0) this.#gsm.dataReceived(Buffer.from("\r\n"));
  }

  /** Nothing more may be written (the port is going away). */
  stopWriting(): void {
    this.#gsm.queue.splice(1);
  }

  /** Closes the port (at most 2 s); an open still in progress closes it when it finishes. */
  async close(wasOpen: boolean): Promise<void> {
    this.#abandoned = true;
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
