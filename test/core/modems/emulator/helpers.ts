import { EmulatedModem, EmulatorBinding, ModemRegistry, createEmulatedPortClass } from "../../../../core/modems/emulator/index.ts";
import type { EmulatedModemOptions, EmulatedSerialPort } from "../../../../core/modems/emulator/index.ts";

let counter = 0;

export function modemOptions(overrides: Partial<EmulatedModemOptions> = {}): EmulatedModemOptions {
  counter++;
  const n = String(counter).padStart(6, "0");
  return {
    imei: `86000000${n}1`.slice(0, 15),
    imsi: `25002000${n}1`.slice(0, 15),
    iccid: `89701020000${n}001`.slice(0, 20),
    msisdn: `79160${n}`,
    operator: "MegaFon",
    ...overrides,
  };
}

/** An isolated registry, binding and port class per test. */
export function createBench() {
  const registry = new ModemRegistry();
  const binding = new EmulatorBinding(registry);
  const Port = createEmulatedPortClass(binding);
  return { registry, binding, Port };
}

const FINAL = /\r\n(OK|ERROR|\+CME ERROR: [^\r]*|\+CMS ERROR: [^\r]*)\r\n/;

/** A raw port on a modem, with helpers that read the reply text. */
export class RawSession {
  private received = "";
  private waiters: { test: (text: string) => boolean; resolve: () => void }[] = [];

  private constructor(readonly port: EmulatedSerialPort) {
    port.on("data", (chunk: Buffer) => {
      this.received += chunk.toString("latin1");
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.test(this.received)) return true;
        waiter.resolve();
        return false;
      });
    });
  }

  static async open(Port: typeof EmulatedSerialPort, path: string): Promise<RawSession> {
    return new Promise((resolve, reject) => {
      const port: EmulatedSerialPort = new Port({ path, baudRate: 115200 }, (error) => {
        if (error) reject(error);
        else resolve(new RawSession(port));
      });
    });
  }

  /** Everything received since the last take(). */
  take(): string {
    const text = this.received;
    this.received = "";
    return text;
  }

  /** Resolves once the received text satisfies `test` (the text is kept). */
  waitFor(test: RegExp | ((text: string) => boolean)): Promise<void> {
    const predicate = typeof test === "function" ? test : (text: string) => test.test(text);
    if (predicate(this.received)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test: predicate, resolve }));
  }

  /** Writes `command\r` and resolves with everything up to the final result code (echo included). */
  async command(command: string): Promise<string> {
    this.port.write(`${command}\r`);
    await this.waitFor(FINAL);
    return this.take();
  }

  /** Like command(), but also waits for `also` (a URC sent after the reply) before returning. */
  async commandThen(command: string, also: RegExp): Promise<string> {
    this.port.write(`${command}\r`);
    await this.waitFor((text) => FINAL.test(text) && also.test(text));
    return this.take();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}

export { EmulatedModem };
