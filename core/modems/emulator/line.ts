/**
 * The serial line of an emulated modem: bytes from the host become command
 * lines, executed one at a time; replies, echo and unsolicited result codes
 * go back. The line's own faults live here too: a hung modem, slow replies,
 * line noise.
 */
import { randomBytes } from "node:crypto";
import type { ModemLink } from "./types.ts";

/** What the line needs from its modem. */
export interface LineHost {
  /** Whether the modem echoes command lines (ATE). */
  echo(): boolean;
  isPlugged(): boolean;
  /** Executes one command line; returns the whole response text. */
  execute(line: string): string;
  /** A tracked timer. */
  later(ms: number, action: () => void): void;
}

export class SerialLine {
  private link: ModemLink | undefined;
  private lineBuffer = "";
  private readonly queue: string[] = [];
  private busy = false;
  private hung = false;
  private slowMs = 0;
  private deferred: (() => void)[] = [];
  private readonly insertions: { line: string; after: RegExp; times: number; replace: boolean }[] = [];

  constructor(private readonly host: LineHost) {}

  get isAttached(): boolean {
    return this.link !== undefined;
  }

  get isHung(): boolean {
    return this.hung;
  }

  attach(link: ModemLink): void {
    if (this.link) throw new Error("modem is already attached to a port");
    this.link = link;
    this.lineBuffer = "";
  }

  /** Returns whether `link` was the attached one. */
  detach(link: ModemLink): boolean {
    if (this.link !== link) return false;
    this.link = undefined;
    this.queue.length = 0;
    return true;
  }

  /** The device goes away: the attached port fails; returns whether one was attached. */
  disconnect(): boolean {
    this.queue.length = 0;
    this.busy = false;
    const link = this.link;
    this.link = undefined;
    if (!link) return false;
    link.disconnect(Object.assign(new Error("Input/output error: device disconnected"), { code: "EIO" }));
    return true;
  }

  /** Bytes written by the host. */
  receive(chunk: Buffer): void {
    if (this.hung || !this.host.isPlugged()) return;
    if (this.host.echo()) this.send(chunk);
    const text = chunk.toString("latin1");
    for (const char of text) {
      if (char === "\r") {
        const line = this.lineBuffer.trim();
        this.lineBuffer = "";
        if (/^at/i.test(line)) this.queue.push(line);
      } else if (char === "\n") {
        continue;
      } else if (char === "\b") {
        this.lineBuffer = this.lineBuffer.slice(0, -1);
      } else if (char === "\u001b") {
        this.lineBuffer = "";
      } else if (this.lineBuffer.length < 4096) {
        this.lineBuffer += char;
      }
    }
    this.processQueue();
  }

  send(bytes: Buffer | string): void {
    if (!this.link || this.hung || !this.host.isPlugged()) return;
    this.link.data(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes));
  }

  /** Sends an unsolicited line. */
  urc(line: string): void {
    this.send(`\r\n${line}\r\n`);
  }

  private processQueue(): void {
    while (!this.busy && this.queue.length > 0) {
      const line = this.queue.shift() ?? "";
      const response = this.host.execute(line);
      if (this.slowMs > 0) {
        this.busy = true;
        this.host.later(this.slowMs, () => {
          this.busy = false;
          this.reply(response);
          this.processQueue();
        });
        return;
      }
      this.reply(response);
    }
  }

  private reply(response: string): void {
    this.send(this.withInsertions(response));
    const actions = this.deferred;
    this.deferred = [];
    for (const action of actions) action();
  }

  /** Slips pending insertions into a reply, after the first line matching each one's `after`. */
  private withInsertions(response: string): string {
    if (this.insertions.length === 0) return response;
    const lines = response.split("\r\n");
    for (const insertion of [...this.insertions]) {
      const at = lines.findIndex((line) => insertion.after.test(line));
      if (at < 0) continue;
      lines.splice(at + 1, insertion.replace ? 1 : 0, insertion.line);
      if (--insertion.times <= 0) this.insertions.splice(this.insertions.indexOf(insertion), 1);
    }
    return lines.join("\r\n");
  }

  insertInReply(line: string, after: RegExp, times: number, replace: boolean): void {
    this.insertions.push({ line, after, times, replace });
  }

  /** Runs `action` after the current command's reply has been sent. */
  afterReply(action: () => void): void {
    this.deferred.push(action);
  }

  hang(): void {
    this.hung = true;
    this.queue.length = 0;
    this.lineBuffer = "";
  }

  unhang(): void {
    this.hung = false;
  }

  slow(ms: number): void {
    this.slowMs = Math.max(0, ms);
  }

  /** Line noise now: random bytes and CRLF, or exactly the bytes given. */
  garbage(bytes?: Buffer | string | number): void {
    if (bytes === undefined || typeof bytes === "number") {
      const noise = randomBytes(typeof bytes === "number" ? bytes : 1 + Math.floor(Math.random() * 32));
      this.send(Buffer.concat([noise, Buffer.from("\r\n")]));
      return;
    }
    this.send(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  /** A power-up or dispose: nothing pending, nothing slow. */
  reset(): void {
    this.busy = false;
    this.hung = false;
    this.slowMs = 0;
  }

  /** Forgets a scheduled slow reply (dispose). */
  idle(): void {
    this.busy = false;
  }
}
