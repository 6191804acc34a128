import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gunzipSync } from "node:zlib";

export interface ReceivedPush {
  headers: IncomingHttpHeaders;
  /** The body as sent (gzip-decoded when Content-Encoding says so). */
  text: string;
  json: Record<string, unknown>;
  at: number;
}

/** What the stub answers: an HTTP status and body, optionally after a delay (a slow partner). */
export interface Scripted {
  status: number;
  body: string;
  delayMs?: number;
}

export const answers = {
  success: (): Scripted => ({ status: 200, body: JSON.stringify({ status: "SUCCESS" }) }),
  serverError: (): Scripted => ({ status: 500, body: "Internal Server Error" }),
  error: (code: string, status = 200): Scripted => ({ status, body: JSON.stringify({ status: "ERROR", error: code }) }),
  slow: (ms: number): Scripted => ({ status: 200, body: JSON.stringify({ status: "SUCCESS" }), delayMs: ms }),
  badJson: (): Scripted => ({ status: 200, body: "<html>ok</html>" }),
};

/**
 * Onlinesim's PUSH_SMS endpoint, played over real HTTP: it records every
 * request and answers from a script (one answer per request, the last one
 * repeated). `refuse()` closes the listening socket so connections are
 * refused; `accept()` listens on the same port again.
 */
export class PartnerStub {
  readonly received: ReceivedPush[] = [];
  #script: Scripted[];
  #server: Server;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #waiters: { count: number; resolve: () => void }[] = [];

  constructor(script: Scripted[] = [answers.success()]) {
    this.#script = script;
    this.#server = this.#create();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/push_sms`;
  }

  script(next: Scripted[]): void {
    this.#script = next;
  }

  #create(): Server {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let raw = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
        const text = raw.toString("utf8");
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // recorded as text
        }
        this.received.push({ headers: req.headers, text, json, at: Date.now() });
        const answer = this.#script.length > 1 ? (this.#script.shift() as Scripted) : (this.#script[0] ?? answers.success());
        const reply = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8" });
          res.end(answer.body);
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs).unref();
        else reply();
        for (const waiter of [...this.#waiters]) {
          if (this.received.length >= waiter.count) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      });
    });
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    return server;
  }

  async listen(port = this.#port): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** Connections to the port are refused until accept(). */
  async refuse(): Promise<void> {
    await this.close();
    this.#server = this.#create();
  }

  async accept(): Promise<void> {
    await this.listen(this.#port);
  }

  /** Resolves once `count` requests in total have arrived. */
  waitFor(count: number, timeoutMs = 15_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`partner stub: ${this.received.length}/${count} requests after ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
