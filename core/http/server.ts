import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type Koa from "koa";

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  requestTimeoutMs: number;
}

/** An HTTP(S) server for the app that can stop gracefully and reload its certificate. */
export class HttpServer {
  readonly #server: Server | HttpsServer;
  readonly #tls?: { cert: string; key: string };

  private constructor(server: Server | HttpsServer, tls?: { cert: string; key: string }) {
    this.#server = server;
    this.#tls = tls;
  }

  static async listen(app: Koa, options: ListenOptions): Promise<HttpServer> {
    const server = options.tls
      ? createHttpsServer({ cert: await readFile(options.tls.cert), key: await readFile(options.tls.key) }, app.callback())
      : createHttpServer(app.callback());
    // Slow-loris guard: a request's headers and body must arrive within the deadline.
    server.requestTimeout = options.requestTimeoutMs + 5_000;
    server.headersTimeout = Math.min(server.requestTimeout, 20_000);
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new HttpServer(server, options.tls);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Re-reads the certificate and key (SIGHUP); new connections use them. */
  async reloadTls(): Promise<void> {
    if (!this.#tls || !("setSecureContext" in this.#server)) return;
    this.#server.setSecureContext({ cert: await readFile(this.#tls.cert), key: await readFile(this.#tls.key) });
  }

  /**
   * Stops accepting, lets in-flight requests finish, closes idle keep-alive
   * connections at once and every connection left after `graceMs`.
   */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}
