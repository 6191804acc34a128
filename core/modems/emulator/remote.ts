/**
 * The hub side of worker-hosted emulated modems (`worker.ts`):
 * `RemoteEmulator.start({ count })` starts a worker thread that owns the
 * modems; `emulator.Port` is a SerialPortStream class whose binding writes
 * to and reads from that worker, so serialport-gsm and the modem layer
 * drive the modems unchanged while their CPU stays off this thread.
 *
 *   const emulator = await RemoteEmulator.start({ count: 64 });
 *   const layer = createModemLayer({ ports: ["/emu/by-path/*"] }, deps, { portClass: emulator.Port });
 *   await emulator.inject(emulator.paths[0], { sender: "79001234567", text: "hi" });
 *   await emulator.stop();
 *
 * Messages: hub → worker `{ t: "call", id, method, ... }` (answered by
 * `{ t: "result", id, value | error }`) and `{ t: "write", path, data }`;
 * worker → hub `{ t: "data", chunks: [path, bytes][] }` (what the modems sent
 * during one worker turn) and `{ t: "disconnect", path, message }`.
 */
import { Worker } from "node:worker_threads";
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  PortInfo,
  PortStatus,
  SetOptions,
  UpdateOptions,
} from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import { SerialPortStream } from "@serialport/stream";
import type { ErrorCallback, StreamOptions } from "@serialport/stream";
import type { InjectOptions } from "./modem.ts";
import type { EmulatorWorkerData, ModemControl, RemotePortInfo, RemoteStats, WorkerMessage, WorkerRequest } from "./worker.ts";

export type { EmulatorWorkerData, ModemControl, RemoteStats } from "./worker.ts";

type CallRequest = Extract<WorkerRequest, { t: "call" }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function canceledError(message: string): Error {
  return Object.assign(new Error(message), { canceled: true });
}

interface PendingRead {
  buffer: Buffer;
  offset: number;
  length: number;
  resolve: (result: { buffer: Buffer; bytesRead: number }) => void;
  reject: (error: Error) => void;
}

/** One open port on a worker-hosted modem (the binding port contract of @serialport/bindings-interface). */
export class RemoteBindingPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private readonly received: Buffer[] = [];
  private pendingRead: PendingRead | undefined;
  private disconnectError: Error | undefined;

  constructor(
    private readonly emulator: RemoteEmulator,
    options: OpenOptions,
  ) {
    this.openOptions = { dataBits: 8, lock: true, stopBits: 1, parity: "none", rtscts: false, xon: false, xoff: false, xany: false, hupcl: true, ...options };
  }

  /** Bytes from the modem (called by RemoteEmulator). */
  deliver(chunk: Buffer): void {
    this.received.push(chunk);
    const pending = this.pendingRead;
    if (!pending) return;
    this.pendingRead = undefined;
    pending.resolve({ buffer: pending.buffer, bytesRead: this.take(pending.buffer, pending.offset, pending.length) });
  }

  /** The modem went away (called by RemoteEmulator). */
  disconnect(error: Error): void {
    this.disconnectError = error;
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    pending?.reject(error);
  }

  private take(buffer: Buffer, offset: number, length: number): number {
    let bytesRead = 0;
    while (bytesRead < length && this.received.length > 0) {
      const head = this.received[0] as Buffer;
      const count = Math.min(head.length, length - bytesRead);
      head.copy(buffer, offset + bytesRead, 0, count);
      bytesRead += count;
      if (count === head.length) this.received.shift();
      else this.received[0] = head.subarray(count);
    }
    return bytesRead;
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) throw canceledError("Port is not open");
    if (this.disconnectError) throw this.disconnectError;
    if (this.pendingRead) throw new Error("a read is already in progress");
    if (this.received.length > 0) return { buffer, bytesRead: this.take(buffer, offset, length) };
    return new Promise((resolve, reject) => {
      this.pendingRead = { buffer, offset, length, resolve, reject };
    });
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw canceledError("Port is not open");
    if (this.disconnectError) throw this.disconnectError;
    this.emulator.write(this.openOptions.path, buffer);
  }

  async close(): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
    this.isOpen = false;
    this.received.length = 0;
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    pending?.reject(canceledError("Port is closed"));
    await this.emulator.closePort(this.openOptions.path, this);
  }

  async update(options: UpdateOptions): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
    this.openOptions.baudRate = options.baudRate;
  }

  async set(_options: SetOptions): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
  }

  async get(): Promise<PortStatus> {
    if (!this.isOpen) throw new Error("Port is not open");
    return { cts: true, dsr: true, dcd: false };
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    if (!this.isOpen) throw new Error("Port is not open");
    return { baudRate: this.openOptions.baudRate };
  }

  async flush(): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
    this.received.length = 0;
  }

  async drain(): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
  }
}

/** `BindingInterface` over a RemoteEmulator's modems. */
export class RemoteBinding implements BindingInterface<RemoteBindingPort> {
  constructor(readonly emulator: RemoteEmulator) {}

  async list(): Promise<PortInfo[]> {
    const ports = (await this.emulator.call({ method: "list" })) as RemotePortInfo[];
    return ports
      .filter((port) => port.plugged)
      .map((port) => ({
        path: port.path,
        manufacturer: "simhive-emulator",
        serialNumber: port.imei,
        pnpId: `usb-simhive_EMU-GSM_${port.imei}-if00-port0`,
        locationId: undefined,
        productId: "0001",
        vendorId: "1d6b",
      }));
  }

  async open(options: OpenOptions): Promise<RemoteBindingPort> {
    if (!options || typeof options.path !== "string") throw new TypeError('"path" is not a string');
    return this.emulator.openPort(options);
  }
}

export type RemotePortOptions = Omit<StreamOptions<RemoteBinding>, "binding"> & OpenOptions;

/** The SerialPortStream class over a RemoteEmulator (what `emulator.Port` is). */
export type RemoteSerialPortClass = (new (options: RemotePortOptions, openCallback?: ErrorCallback) => SerialPortStream<RemoteBinding>) & {
  list(): Promise<PortInfo[]>;
};

/** Worker-hosted emulated modems, seen from the hub's thread. */
export class RemoteEmulator {
  readonly binding: RemoteBinding;
  readonly Port: RemoteSerialPortClass;
  /** The modems' paths, in modem order (the layer's `modems.emulator` identities). */
  paths: readonly string[] = [];
  private readonly ports = new Map<string, RemoteBindingPort>();
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exited: Error | undefined;

  private constructor(private readonly worker: Worker) {
    this.binding = new RemoteBinding(this);
    const binding = this.binding;
    this.Port = class RemoteSerialPort extends SerialPortStream<RemoteBinding> {
      static list(): Promise<PortInfo[]> {
        return binding.list();
      }

      constructor(options: RemotePortOptions, openCallback?: ErrorCallback) {
        super({ ...options, binding }, openCallback);
      }
    };
    worker.on("message", (message: WorkerMessage) => this.onMessage(message));
    worker.on("exit", (code) => this.onExit(new Error(`emulator worker exited (${code})`)));
    worker.on("error", (error) => this.onExit(error));
  }

  /**
   * Starts the worker with `count` modems (identities as `modems.emulator`
   * gives them: paths `<pathPrefix>platform-emu-usb-0:1.<n>:1.2`) and resolves
   * once they are registered.
   */
  static async start(options: EmulatorWorkerData): Promise<RemoteEmulator> {
    const workerData = { simhiveEmulator: options };
    let worker: Worker;
    if (import.meta.url.endsWith(".ts")) {
      // under tsx (dev, tests, bench): on Node 20 a worker does not inherit the loader
      // hooks `--import tsx` registers, so the worker registers tsx before loading worker.ts
      const entry = new URL("./worker.ts", import.meta.url).href;
      const tsx = import.meta.resolve("tsx/esm/api");
      worker = new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData });
    } else {
      worker = new Worker(new URL("./worker.js", import.meta.url), { workerData });
    }
    const emulator = new RemoteEmulator(worker);
    emulator.paths = await new Promise<string[]>((resolve, reject) => {
      const onMessage = (message: WorkerMessage) => {
        if (message.t !== "ready") return;
        worker.off("message", onMessage);
        worker.off("error", reject);
        resolve(message.paths);
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    return emulator;
  }

  /** Injects an SMS into the modem at `path` (in the worker); resolves with the slots stored now. */
  inject(path: string, options: InjectOptions): Promise<number[]> {
    return this.call({ method: "inject", path, options }) as Promise<number[]>;
  }

  /** Injects several SMS with one message to the worker (a burst arriving at one instant); resolves with each one's slots. */
  injectMany(items: { path: string; options: InjectOptions }[]): Promise<number[][]> {
    return this.call({ method: "injectMany", items }) as Promise<number[][]>;
  }

  /** hang / unhang / unplug / replug the modem at `path`. */
  async control(path: string, action: ModemControl): Promise<void> {
    await this.call({ method: "control", path, action });
  }

  /** Totals over the worker's modems: AT lines received, parts on the SIMs, time inside inject(). */
  stats(): Promise<RemoteStats> {
    return this.call({ method: "stats" }) as Promise<RemoteStats>;
  }

  /** Ends the worker (open ports fail like an unplug). */
  async stop(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
  }

  /** @internal a request to the worker. */
  call(request: DistributiveOmit<CallRequest, "t" | "id">): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, t: "call", id } as WorkerRequest);
    });
  }

  /** @internal */
  async openPort(options: OpenOptions): Promise<RemoteBindingPort> {
    await this.call({ method: "open", path: options.path });
    const port = new RemoteBindingPort(this, options);
    this.ports.set(options.path, port);
    return port;
  }

  /** @internal */
  async closePort(path: string, port: RemoteBindingPort): Promise<void> {
    if (this.ports.get(path) !== port) return;
    this.ports.delete(path);
    if (!this.exited) await this.call({ method: "close", path });
  }

  /** @internal */
  write(path: string, buffer: Buffer): void {
    const data = new Uint8Array(buffer); // own ArrayBuffer, transferred
    this.worker.postMessage({ t: "write", path, data } satisfies WorkerRequest, [data.buffer]);
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.t) {
      case "data":
        for (const [path, data] of message.chunks) this.ports.get(path)?.deliver(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        return;
      case "disconnect": {
        const port = this.ports.get(message.path);
        this.ports.delete(message.path);
        port?.disconnect(Object.assign(new Error(message.message), { code: message.code }));
        return;
      }
      case "result": {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (!pending) return;
        if (message.error) pending.reject(Object.assign(new Error(message.error.message), message.error.code === undefined ? {} : { code: message.error.code, errno: message.error.errno }));
        else pending.resolve(message.value);
        return;
      }
      case "ready":
        return;
    }
  }

  private onExit(error: Error): void {
    if (this.exited) return;
    this.exited = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    const disconnected = Object.assign(new Error("Input/output error: device disconnected"), { code: "EIO" });
    for (const port of this.ports.values()) port.disconnect(disconnected);
    this.ports.clear();
  }
}
