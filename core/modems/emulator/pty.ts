/**
 * Serves an EmulatedModem on a real pseudo-terminal, so the native serialport
 * binding (and anything else that opens a device path) can talk to it.
 * `socat -d -d pty,raw,echo=0 pty,raw,echo=0` makes a linked pty pair; the
 * modem sits on one end, `path` is the other. Needs socat on PATH.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { SerialPort } from "serialport";
import type { EmulatedModem, ModemLink } from "./modem.ts";

export interface PtyServer {
  /** The device path to open, e.g. /dev/pts/7. */
  readonly path: string;
  close(): Promise<void>;
}

function startSocat(socat: string): Promise<{ child: ChildProcess; paths: [string, string] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(socat, ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"], { stdio: ["ignore", "ignore", "pipe"] });
    const paths: string[] = [];
    let log = "";
    const fail = (error: Error): void => {
      child.kill("SIGTERM");
      reject(error);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "ENOENT" ? Object.assign(new Error(`${socat} not found: install socat to serve a modem on a pty`), { code: "ENOENT" }) : error);
    });
    child.once("exit", (code) => fail(new Error(`socat exited (${String(code)}) before the ptys were ready: ${log.trim()}`)));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      log += chunk;
      for (const match of chunk.matchAll(/PTY is (\S+)/g)) if (match[1]) paths.push(match[1]);
      if (paths.length >= 2 && /starting data transfer loop/.test(log)) {
        child.removeAllListeners("exit");
        child.stderr?.removeAllListeners("data");
        child.stderr?.resume();
        resolve({ child, paths: [paths[0] as string, paths[1] as string] });
      }
    });
  });
}

function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 115200 }, (error) => (error ? reject(error) : resolve(port)));
  });
}

/** Serves `modem` on a fresh pty pair; `close()` detaches the modem and stops socat. */
export async function servePty(modem: EmulatedModem, options: { socat?: string } = {}): Promise<PtyServer> {
  const { child, paths } = await startSocat(options.socat ?? "socat");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let port: SerialPort;
  try {
    port = await openPort(paths[0]);
  } catch (error) {
    child.kill("SIGTERM");
    await exited;
    throw error;
  }
  const link: ModemLink = {
    data: (chunk) => {
      port.write(chunk);
    },
    // An unplugged modem takes its tty with it: stop socat so the other end hangs up.
    disconnect: () => {
      child.kill("SIGTERM");
    },
  };
  port.on("data", (chunk: Buffer) => modem.receive(chunk));
  port.on("error", () => undefined);
  modem.attach(link);
  let closed = false;
  return {
    path: paths[1],
    async close() {
      if (closed) return;
      closed = true;
      modem.detach(link);
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
