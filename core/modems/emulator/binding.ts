/**
 * A serialport binding whose ports are emulated modems, a registry mapping
 * paths to modems, and `EmulatedSerialPort`, a SerialPortStream that uses it.
 * Reads wait on a promise until the modem sends something: no polling.
 */
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
import type { EmulatedModem, ModemLink } from "./modem.ts";

export class ModemRegistry {
  private readonly modems = new Map<string, EmulatedModem>();

  register(path: string, modem: EmulatedModem): void {
    if (this.modems.has(path)) throw new Error(`a modem is already registered at ${path}`);
    this.modems.set(path, modem);
  }

  unregister(path: string): void {
    const modem = this.modems.get(path);
    if (!modem) return;
    this.modems.delete(path);
    modem.dispose();
  }

  get(path: string): EmulatedModem | undefined {
    return this.modems.get(path);
  }

  entries(): [string, EmulatedModem][] {
    return [...this.modems.entries()];
  }

  /** Unregisters every modem and clears its timers. */
  clear(): void {
    for (const path of [...this.modems.keys()]) this.unregister(path);
  }
}

function systemError(message: string, code: string, errno: number): Error {
  return Object.assign(new Error(message), { code, errno });
}

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

/** One open emulated port. Implements the binding port contract of @serialport/bindings-interface. */
export class EmulatedBindingPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private readonly received: Buffer[] = [];
  private pendingRead: PendingRead | undefined;
  private disconnectError: Error | undefined;
  private readonly link: ModemLink;

  constructor(
    private readonly modem: EmulatedModem,
    options: OpenOptions,
  ) {
    this.openOptions = {
      dataBits: 8,
      lock: true,
      stopBits: 1,
      parity: "none",
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
      ...options,
    };
    this.link = {
      data: (chunk) => {
        this.received.push(chunk);
        this.serveRead();
      },
      disconnect: (error) => {
        this.disconnectError = error;
        const pending = this.pendingRead;
        this.pendingRead = undefined;
        pending?.reject(error);
      },
    };
    modem.attach(this.link);
  }

  private serveRead(): void {
    const pending = this.pendingRead;
    if (!pending || this.received.length === 0) return;
    this.pendingRead = undefined;
    pending.resolve({ buffer: pending.buffer, bytesRead: this.take(pending.buffer, pending.offset, pending.length) });
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
    this.modem.receive(Buffer.from(buffer));
  }

  async close(): Promise<void> {
    if (!this.isOpen) throw new Error("Port is not open");
    this.isOpen = false;
    this.modem.detach(this.link);
    this.received.length = 0;
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    pending?.reject(canceledError("Port is closed"));
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

/** `BindingInterface` over a registry of emulated modems. */
export class EmulatorBinding implements BindingInterface<EmulatedBindingPort> {
  constructor(readonly registry: ModemRegistry) {}

  async list(): Promise<PortInfo[]> {
    return this.registry
      .entries()
      .filter(([, modem]) => modem.isPlugged)
      .map(([path, modem]) => ({
        path,
        manufacturer: "simhive-emulator",
        serialNumber: modem.options.imei,
        pnpId: `usb-simhive_EMU-GSM_${modem.options.imei}-if00-port0`,
        locationId: undefined,
        productId: "0001",
        vendorId: "1d6b",
      }));
  }

  async open(options: OpenOptions): Promise<EmulatedBindingPort> {
    if (!options || typeof options.path !== "string") throw new TypeError('"path" is not a string');
    await Promise.resolve();
    const delay = this.registry.get(options.path)?.openDelayMs ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const modem = this.registry.get(options.path);
    if (!modem || !modem.isPlugged) {
      throw systemError(`Error: No such file or directory, cannot open ${options.path}`, "ENOENT", -2);
    }
    if (modem.isAttached) {
      throw systemError(`Error Resource temporarily unavailable Cannot lock port ${options.path}`, "EBUSY", -16);
    }
    return new EmulatedBindingPort(modem, options);
  }
}

export const emulatorRegistry = new ModemRegistry();
export const emulatorBinding = new EmulatorBinding(emulatorRegistry);

export type EmulatedPortOptions = Omit<StreamOptions<EmulatorBinding>, "binding"> &
  OpenOptions & { binding?: EmulatorBinding };

/**
 * SerialPort over the default `emulatorRegistry`:
 * `new EmulatedSerialPort({ path, baudRate }, openCallback)`. serialport-gsm
 * accepts it as its port class.
 */
export class EmulatedSerialPort extends SerialPortStream<EmulatorBinding> {
  static list(): Promise<PortInfo[]> {
    return emulatorBinding.list();
  }

  constructor(options: EmulatedPortOptions, openCallback?: ErrorCallback) {
    super({ ...options, binding: options.binding ?? emulatorBinding }, openCallback);
  }
}

/** An EmulatedSerialPort class bound to another binding (an isolated registry). */
export function createEmulatedPortClass(binding: EmulatorBinding): typeof EmulatedSerialPort {
  return class extends EmulatedSerialPort {
    static override list(): Promise<PortInfo[]> {
      return binding.list();
    }

    constructor(options: EmulatedPortOptions, openCallback?: ErrorCallback) {
      super({ ...options, binding: options.binding ?? binding }, openCallback);
    }
  };
}
