import { watch, type FSWatcher } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { AtPort, type PortClass } from "./at.ts";
import { parseDigits } from "./responses.ts";

/** `*` and `?` within one path segment; everything else literal. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}

export function matchesGlob(pattern: string, path: string): boolean {
  return pattern === path || globToRegExp(pattern).test(path);
}

/** The directory a glob lists: everything before the first segment with a wildcard. */
export function globBase(pattern: string): string {
  const segments = pattern.split("/");
  const wild = segments.findIndex((s) => /[*?]/.test(s));
  if (wild < 0) return dirname(pattern);
  return segments.slice(0, wild).join("/") || "/";
}

/** Filesystem paths matching a glob (wildcards in any segment); a missing directory matches nothing. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  let current = [segments[0] === "" ? "/" : segments[0] ?? "/"];
  for (const segment of segments.slice(1)) {
    const next: string[] = [];
    for (const dir of current) {
      if (!/[*?]/.test(segment)) {
        next.push(join(dir, segment));
        continue;
      }
      const re = globToRegExp(segment);
      try {
        for (const name of await readdir(dir)) if (re.test(name)) next.push(join(dir, name));
      } catch {
        // directory absent (no USB serial device plugged in): nothing here
      }
    }
    current = next;
  }
  const existing: string[] = [];
  for (const path of current) {
    try {
      await stat(path);
      existing.push(path);
    } catch {
      // dangling by-path link or vanished device
    }
  }
  return existing;
}

/** Lists candidate ports: filesystem globs, plus the port class's own `list()` (the emulator's registry, /dev/ttyUSB*) filtered by the globs. */
export async function listCandidates(patterns: readonly string[], portClass: PortClass): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) for (const path of await expandGlob(pattern)) found.add(path);
  const list = (portClass as unknown as { list?: () => Promise<{ path: string }[]> }).list;
  if (typeof list === "function") {
    try {
      for (const { path } of await list.call(portClass)) if (patterns.some((p) => matchesGlob(p, path))) found.add(path);
    } catch {
      // listing is a convenience; globs are the source of truth
    }
  }
  return [...found].sort();
}

/** Why a port did not open, and what the operator can do about it. */
export interface OpenFailure {
  /** `absent`: the device is gone; `denied`: no permission; `busy`: another process holds it; `other`: anything else (e.g. a timeout). */
  kind: "absent" | "denied" | "busy" | "other";
  hint: string;
}

const OPEN_FAILURES: readonly (OpenFailure & { codes: readonly string[]; text: RegExp })[] = [
  { kind: "absent", codes: ["ENOENT", "ENODEV", "ENXIO"], text: /No such file or directory|No such device/i, hint: "the device is gone (unplugged?)" },
  {
    kind: "denied",
    codes: ["EACCES", "EPERM"],
    text: /Permission denied|Operation not permitted/i,
    hint: "permission denied: the hub's user must be in the dialout group (the simhive unit has SupplementaryGroups=dialout; by hand: usermod -aG dialout <user>, then log in again)",
  },
  {
    kind: "busy",
    codes: ["EBUSY", "EAGAIN"],
    text: /Device or resource busy|Resource temporarily unavailable|Cannot lock port/i,
    hint: "the port is held by another process (ModemManager, minicom, a second simhive?): stop it, e.g. systemctl disable --now ModemManager",
  },
];

/**
 * Classes a failed open by the system error behind it: the `code` in the
 * cause chain (the emulator, Node's fs), else the strerror text that the
 * native serialport binding puts in its message (it sets no code).
 */
export function classifyOpenError(error: unknown): OpenFailure {
  const chain: unknown[] = [];
  for (let current = error; current instanceof Error && chain.length < 8; current = current.cause) chain.push(current);
  const codes = chain.map((e) => (e as { code?: unknown }).code).filter((code): code is string => typeof code === "string");
  const byCode = OPEN_FAILURES.find((f) => codes.some((code) => f.codes.includes(code)));
  const texts = chain.map((e) => (e as Error).message);
  const found = byCode ?? OPEN_FAILURES.find((f) => texts.some((text) => f.text.test(text)));
  return found ? { kind: found.kind, hint: found.hint } : { kind: "other", hint: "the port could not be opened" };
}

/** `firstMs`, doubling with each attempt (0-based), at most `maxMs`. */
export function backoffMs(attempt: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(attempt, 30));
}

export interface ProbeResult {
  path: string;
  /** Answers AT: an AT command interface. */
  at: boolean;
  imei?: string;
  error?: string;
  /** Set when the port did not open. */
  openFailure?: OpenFailure;
}

/** Opens `path`, asks AT (twice) and the IMEI, closes. Never throws. */
export async function probePort(path: string, portClass: PortClass, baudRate: number, log: Logger, timeoutMs = 1500): Promise<ProbeResult> {
  const at = new AtPort({ path, portClass, baudRate, log, timeoutMs, openTimeoutMs: timeoutMs * 2 });
  try {
    try {
      await at.open();
    } catch (error) {
      return { path, at: false, error: describeError(error), openFailure: classifyOpenError(error) };
    }
    let answered = false;
    for (let attempt = 0; attempt < 2 && !answered; attempt++) {
      answered = await at.command("AT", { timeoutMs }).then(
        () => true,
        () => false,
      );
      if (!answered) await at.flush(100, 300);
    }
    if (!answered) return { path, at: false, error: "no answer to AT" };
    const imei = parseDigits(await at.command("AT+CGSN", { timeoutMs }).catch(() => []), "+CGSN");
    return { path, at: true, ...(imei ? { imei } : {}) };
  } catch (error) {
    return { path, at: false, error: describeError(error) };
  } finally {
    await at.close();
  }
}

/** Runs tasks with at most `limit` at once; `urgent` ones are started before the others waiting. */
export class Limiter {
  readonly #limit: number;
  readonly #waiting: { urgent: (() => void)[]; later: (() => void)[] } = { urgent: [], later: [] };
  #running = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(fn: () => Promise<T>, urgent = false): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => (urgent ? this.#waiting.urgent : this.#waiting.later).push(resolve));
    else this.#running++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.urgent.shift() ?? this.#waiting.later.shift();
      if (next) next(); // the slot passes on
      else this.#running--;
    }
  }
}

export const RESCAN_TRIGGER = "/run/simhive/rescan";

/**
 * Calls `onChange` (debounced) when a port appears or disappears in a glob's
 * directory (udev adding or removing /dev/serial/by-path links), and on every
 * write to the trigger file (udev's `echo %k > /run/simhive/rescan`: a create
 * gives a "rename" event, a write to a file left in place only a "change"),
 * which it then removes. A missing directory is watched through its nearest
 * existing parent, and the watch moves down to it once it appears (and back
 * up when it goes).
 */
export class PortWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #onChange: () => void;
  readonly #log: Logger;
  readonly #trigger: string;
  #patterns: readonly string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #portsChanged = false;
  #triggered = false;
  #stopped = false;

  constructor(onChange: () => void, log: Logger, trigger = RESCAN_TRIGGER) {
    this.#onChange = onChange;
    this.#log = log;
    this.#trigger = trigger;
  }

  async start(patterns: readonly string[]): Promise<void> {
    this.#patterns = patterns;
    await this.consumeTrigger(); // left from before: the start scans anyway, and the next write creates it anew
    await this.#arm();
  }

  /** Watches, for each glob, its directory or (while missing) its nearest existing parent, and the trigger's directory. */
  async #arm(): Promise<void> {
    const wanted = new Set<string>();
    for (const pattern of this.#patterns) wanted.add(await existingAncestor(globBase(pattern)));
    wanted.add(await existingAncestor(dirname(this.#trigger)));
    wanted.delete("/");
    if (this.#stopped) return;
    let changed = false;
    for (const [dir, watcher] of this.#watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.#watchers.delete(dir);
      changed = true;
    }
    for (const dir of wanted) {
      if (this.#watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, (event, name) => this.#event(dir, event, name));
        watcher.on("error", () => {
          // the directory went away: watch its parent from now on
          watcher.close();
          if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
          this.#portsChanged = true;
          this.#changed();
        });
        this.#watchers.set(dir, watcher);
        changed = true;
      } catch (error) {
        this.#log.debug({ err: error, dir }, "cannot watch for port changes; periodic re-scan only");
      }
    }
    if (changed) this.#log.debug({ dirs: [...this.#watchers.keys()] }, "watching for port changes");
  }

  #event(dir: string, event: string, name: string | Buffer | null): void {
    if (dir === dirname(this.#trigger) && String(name) === basename(this.#trigger)) this.#triggered = true;
    // otherwise only entries appearing or disappearing: writes to device nodes (/dev/null ...) also notify
    else if (event === "rename") this.#portsChanged = true;
    else return;
    this.#changed();
  }

  #changed(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#settle(), 300);
    this.#timer.unref();
  }

  async #settle(): Promise<void> {
    if (this.#stopped) return;
    const portsChanged = this.#portsChanged;
    const triggered = this.#triggered;
    this.#portsChanged = this.#triggered = false;
    await this.#arm();
    // our own unlink notifies too: only a trigger that was there re-scans
    const consumed = triggered && (await this.consumeTrigger());
    if ((portsChanged || consumed) && !this.#stopped) this.#onChange();
  }

  /** True (and the file removed) when the trigger file exists. */
  async consumeTrigger(): Promise<boolean> {
    try {
      await unlink(this.#trigger);
      return true;
    } catch {
      return false;
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      if ((await stat(current)).isDirectory()) return current;
    } catch {
      // keep climbing
    }
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}
