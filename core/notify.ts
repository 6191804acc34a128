import { execFile } from "node:child_process";
import type { Logger } from "./log.ts";

/**
 * sd_notify through the `systemd-notify` command (Node has no unix datagram
 * sockets; the unit sets NotifyAccess=all, and systemd-notify waits for
 * systemd to take the message since v246). Does nothing when NOTIFY_SOCKET is
 * unset, so running outside systemd costs nothing and logs nothing.
 */
export class SystemdNotifier {
  readonly #log: Logger;
  readonly #enabled: boolean;
  readonly #command: string;
  #watchdog?: NodeJS.Timeout;

  constructor(log: Logger, env: NodeJS.ProcessEnv = process.env, command = "systemd-notify") {
    this.#log = log;
    this.#enabled = Boolean(env.NOTIFY_SOCKET);
    this.#command = command;
    const usec = Number(env.WATCHDOG_USEC);
    if (this.#enabled && Number.isFinite(usec) && usec > 0) {
      const everyMs = Math.max(500, Math.floor(usec / 2000));
      this.#watchdog = setInterval(() => this.send("WATCHDOG=1"), everyMs);
      this.#watchdog.unref();
    }
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  ready(status: string): void {
    this.send("READY=1", `STATUS=${status}`);
  }

  status(status: string): void {
    this.send(`STATUS=${status}`);
  }

  stopping(): void {
    this.send("STOPPING=1");
  }

  send(...assignments: string[]): void {
    if (!this.#enabled) return;
    execFile(this.#command, [`--pid=${process.pid}`, ...assignments], { timeout: 5_000 }, (error) => {
      if (error) this.#log.warn({ err: error, assignments }, "systemd-notify failed");
    });
  }

  close(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
  }
}

/** What the hub needs from a service manager notifier. */
export interface NotifierLike {
  ready(status: string): void;
  status(status: string): void;
  stopping(): void;
  close(): void;
}
