import { watch, type FSWatcher } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
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

export interface ProbeResult {
  path: string;
  /** Answers AT: an AT command interface. */
  at: boolean;
  imei?: string;
  error?: string;
}

/** Opens `path`, asks AT (twice) and the IMEI, closes. Never throws. */
export async function probePort(path: string, portClass: PortClass, baudRate: number, log: Logger, timeoutMs = 1500): Promise<ProbeResult> {
  const at = new AtPort({ path, portClass, baudRate, log, timeoutMs, openTimeoutMs: timeoutMs * 2 });
  try {
    await at.open();
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
    return { path, at: false, error: (error as Error).message };
  } finally {
    await at.close();
  }
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const RESCAN_TRIGGER = "/run/simhive/rescan";

/**
 * Calls `onChange` (debounced) when a glob's directory changes (udev adding or
 * removing /dev/serial/by-path links) or the trigger file appears. A missing
 * directory is watched through its nearest existing parent.
 */
export class PortWatcher {
  readonly #watchers: FSWatcher[] = [];
  readonly #onChange: () => void;
  readonly #log: Logger;
  readonly #trigger: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(onChange: () => void, log: Logger, trigger = RESCAN_TRIGGER) {
    this.#onChange = onChange;
    this.#log = log;
    this.#trigger = trigger;
  }

  async start(patterns: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const pattern of patterns) dirs.add(await existingAncestor(globBase(pattern)));
    dirs.add(await existingAncestor(dirname(this.#trigger)));
    for (const dir of dirs) {
      if (dir === "/") continue;
      try {
        // only entries appearing or disappearing: writes to device nodes (/dev/null ...) also notify
        const watcher = watch(dir, { persistent: false }, (event) => {
          if (event === "rename") this.#changed();
        });
        watcher.on("error", () => undefined);
        this.#watchers.push(watcher);
      } catch (error) {
        this.#log.debug({ err: error, dir }, "cannot watch for port changes; periodic re-scan only");
      }
    }
  }

  #changed(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onChange(), 300);
    this.#timer.unref();
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
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
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
