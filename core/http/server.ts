import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import { readTlsFiles, type TlsFiles } from "../config/tls.ts";

export interface ListenOptions {
  host: string;
  port: number;
  tls?: TlsFiles;
  requestTimeoutMs: number;
}

/** An HTTP(S) server for the app that can stop gracefully and reload its certificate. */
export class HttpServer {
  readonly #server: Server | HttpsServer;

  private constructor(server: Server | HttpsServer) {
    this.#server = server;
  }

  /** Listens; with `tls`, over HTTPS (a file that does not serve is SIMHIVE_ERR_CONFIG naming http.tls.cert or .key and the file). */
  static async listen(app: Koa, options: ListenOptions): Promise<HttpServer> {
    const server = options.tls ? createHttpsServer(await readTlsFiles(options.tls), app.callback()) : createHttpServer(app.callback());
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
    return new HttpServer(server);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Reads the certificate and key again (SIGHUP), from the files the config now names; new connections use them. */
  async reloadTls(tls: TlsFiles): Promise<void> {
    if (!("setSecureContext" in this.#server)) return;
    this.#server.setSecureContext(await readTlsFiles(tls));
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
