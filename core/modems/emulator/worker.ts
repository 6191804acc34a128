/**
 * Worker-thread host for emulated modems: owns `count` EmulatedModems (the
 * identities of the layer's `modems.emulator` section) and relays their
 * serial bytes over the parent port, so that the emulator's CPU (PDU
 * encoding in inject(), answering AT commands) stays off the hub's thread,
 * as with real modems. The hub side is `remote.ts` (RemoteEmulator); the
 * messages are described there.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import type { EmulatorConfig } from "../config.ts";
import { registerEmulatedModems } from "../emulated.ts";
import { ModemRegistry } from "./binding.ts";
import type { EmulatedModem, InjectOptions, ModemLink } from "./modem.ts";

/** Hub → worker: a request (answered with `result`) or a write (not answered). */
export type WorkerRequest =
  | { t: "call"; id: number; method: "list" }
  | { t: "call"; id: number; method: "open"; path: string }
  | { t: "call"; id: number; method: "close"; path: string }
  | { t: "call"; id: number; method: "inject"; path: string; options: InjectOptions }
  | { t: "call"; id: number; method: "injectMany"; items: { path: string; options: InjectOptions }[] }
  | { t: "call"; id: number; method: "control"; path: string; action: ModemControl }
  | { t: "call"; id: number; method: "stats" }
  | { t: "write"; path: string; data: Uint8Array };

/** Fault controls relayed to a worker-hosted modem. */
export type ModemControl = "hang" | "unhang" | "unplug" | "replug";

/** Worker → hub. */
export type WorkerMessage =
  | { t: "ready"; paths: string[] }
  | { t: "result"; id: number; value?: unknown; error?: { message: string; code?: string; errno?: number } }
  /** Bytes the modems sent during one turn of the worker, one entry per port. */
  | { t: "data"; chunks: [path: string, data: Uint8Array][] }
  | { t: "disconnect"; path: string; message: string; code?: string };

/** Totals over the worker's modems (the bench's counters). */
export interface RemoteStats {
  /** AT command lines received. */
  commands: number;
  /** SMS parts on the SIMs now. */
  stored: number;
  /** Time spent inside inject() in the worker, ms. */
  injectMs: number;
  injected: number;
}

export interface RemotePortInfo {
  path: string;
  imei: string;
  plugged: boolean;
}

function fail(message: string, code: string, errno: number): Error {
  return Object.assign(new Error(message), { code, errno });
}

/** Serves `registry` over `port`; exported for tests, the worker entry below calls it. */
export function serveModems(port: MessagePort, registry: ModemRegistry): void {
  const links = new Map<string, ModemLink>();
  /**
   * Bytes the modems sent, flushed once the worker's pending messages are
   * handled (setImmediate): one message for all ports, so the hub reads what
   * a burst produced in one turn, as with modems that answer in parallel.
   */
  const outgoing = new Map<string, Uint8Array[]>();
  let flushQueued = false;
  let injectMs = 0;
  let injected = 0;

  const flush = () => {
    const message: WorkerMessage = { t: "data", chunks: [] };
    const transfer: ArrayBuffer[] = [];
    for (const [path, chunks] of outgoing) {
      // an own ArrayBuffer, transferred: a pooled Buffer would clone its whole 8 KiB pool
      const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        data.set(chunk, offset);
        offset += chunk.length;
      }
      message.chunks.push([path, data]);
      transfer.push(data.buffer);
    }
    outgoing.clear();
    if (message.chunks.length > 0) port.postMessage(message, transfer);
  };

  const modemAt = (path: string): EmulatedModem => {
    const modem = registry.get(path);
    if (!modem) throw fail(`no emulated modem at ${path}`, "ENOENT", -2);
    return modem;
  };

  const open = (path: string) => {
    const modem = registry.get(path);
    if (!modem || !modem.isPlugged) throw fail(`Error: No such file or directory, cannot open ${path}`, "ENOENT", -2);
    if (modem.isAttached) throw fail(`Error Resource temporarily unavailable Cannot lock port ${path}`, "EBUSY", -16);
    const link: ModemLink = {
      data: (chunk) => {
        const chunks = outgoing.get(path);
        if (chunks) chunks.push(chunk);
        else outgoing.set(path, [chunk]);
        if (!flushQueued) {
          flushQueued = true;
          setImmediate(() => {
            flushQueued = false;
            flush();
          });
        }
      },
      disconnect: (error) => {
        links.delete(path);
        flush();
        port.postMessage({ t: "disconnect", path, message: error.message, code: (error as { code?: string }).code } satisfies WorkerMessage);
      },
    };
    modem.attach(link);
    links.set(path, link);
  };

  const inject = (path: string, options: InjectOptions): number[] => {
    const modem = modemAt(path);
    const from = performance.now();
    const slots = modem.inject(options);
    injectMs += performance.now() - from;
    injected++;
    return slots;
  };

  /** A burst arriving at one instant; its +CMTIs leave together right after. */
  const injectMany = (items: { path: string; options: InjectOptions }[]): number[][] => {
    const slots = items.map(({ path, options }) => inject(path, options));
    flush();
    return slots;
  };

  const close = (path: string) => {
    const link = links.get(path);
    links.delete(path);
    outgoing.delete(path);
    if (link) registry.get(path)?.detach(link);
  };

  const call = (request: Extract<WorkerRequest, { t: "call" }>): unknown => {
    switch (request.method) {
      case "list":
        return registry.entries().map(([path, modem]): RemotePortInfo => ({ path, imei: modem.options.imei, plugged: modem.isPlugged }));
      case "open":
        return open(request.path);
      case "close":
        return close(request.path);
      case "inject":
        return inject(request.path, request.options);
      case "injectMany":
        return injectMany(request.items);
      case "control":
        modemAt(request.path)[request.action]();
        return undefined;
      case "stats": {
        const stats: RemoteStats = { commands: 0, stored: 0, injectMs, injected };
        for (const [, modem] of registry.entries()) {
          stats.commands += modem.counters.commands;
          stats.stored += modem.storage().length;
        }
        return stats;
      }
    }
  };

  port.on("message", (request: WorkerRequest) => {
    if (request.t === "write") {
      // writes to a closed or disconnected port are dropped (the hub side fails them)
      if (links.has(request.path)) registry.get(request.path)?.receive(Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength));
      return;
    }
    const failed = (error: unknown) => {
      const { message, code, errno } = error as Error & { code?: string; errno?: number };
      port.postMessage({ t: "result", id: request.id, error: { message, ...(code === undefined ? {} : { code }), ...(errno === undefined ? {} : { errno }) } } satisfies WorkerMessage);
    };
    try {
      const value = call(request);
      if (value instanceof Promise) value.then((resolved: unknown) => port.postMessage({ t: "result", id: request.id, value: resolved } satisfies WorkerMessage), failed);
      else port.postMessage({ t: "result", id: request.id, value } satisfies WorkerMessage);
    } catch (error) {
      failed(error);
    }
  });
}

/** What the worker is started with (`workerData`). */
export type EmulatorWorkerData = Pick<EmulatorConfig, "count"> & Partial<Omit<EmulatorConfig, "count">>;

if (parentPort && (workerData as { simhiveEmulator?: EmulatorWorkerData } | undefined)?.simhiveEmulator) {
  const data = (workerData as { simhiveEmulator: EmulatorWorkerData }).simhiveEmulator;
  const registry = new ModemRegistry();
  const { modems } = registerEmulatedModems({ storageSize: 30, cnumEvery: 2, pathPrefix: "/emu/by-path/", ...data }, registry);
  serveModems(parentPort, registry);
  parentPort.postMessage({ t: "ready", paths: [...modems.keys()] } satisfies WorkerMessage);
}
