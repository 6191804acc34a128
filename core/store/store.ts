import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { AbstractSublevel } from "abstract-level";
import { Level } from "level";
import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { migrate, SCHEMA_VERSION } from "./migrations.ts";

/** A JSON-valued sublevel: one per concern, one per plugin. */
export type Sublevel<V = unknown> = AbstractSublevel<Level<string, unknown>, string | Buffer | Uint8Array, string, V>;

/** One operation of a synced batch, on any sublevel of the one database. */
export type BatchOp =
  | { type: "put"; sublevel: Sublevel<any>; key: string; value: unknown }
  | { type: "del"; sublevel: Sublevel<any>; key: string };

/** Sublevel names owned by core. Plugins get `plugin:<name>`. */
export const CORE_SUBLEVELS = [
  "meta",
  "modems",
  "sims",
  "parts",
  "messages",
  "messages-pending",
  "activations",
  "activations-active",
  "history",
  "counters",
] as const;
export type CoreSublevel = (typeof CORE_SUBLEVELS)[number];

export type Pruner = (cutoff: number) => Promise<number>;

/** A key range of a sublevel, as LevelDB iterators take it. */
export interface KeyRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

/** How many deletes go into one synced batch when a range is cleared (retention). */
const DELETE_BATCH = 500;

/**
 * The hub's state: one LevelDB in `hub.dataDir`, JSON values, sublevels per
 * concern. Every write a partner depends on goes through `batch`, which is
 * atomic across sublevels and synced to disk (fsync) before it resolves.
 */
export class Store {
  readonly db: Level<string, unknown>;
  readonly location: string;
  readonly #subs = new Map<string, Sublevel<any>>();
  readonly #pruners = new Map<string, Pruner>();
  #closed = false;

  private constructor(db: Level<string, unknown>, location: string) {
    this.db = db;
    this.location = location;
  }

  /** Opens (creating) the store; a second hub on the same directory gets SIMHIVE_ERR_STORE_LOCKED. */
  static async open(dataDir: string, log: Logger): Promise<Store> {
    const location = join(dataDir, "db");
    try {
      await mkdir(location, { recursive: true });
    } catch (error) {
      throw new SimhiveError("SIMHIVE_ERR_STORE_OPEN", `cannot create the data directory ${location}: ${(error as Error).message}`, { cause: error });
    }
    const db = new Level<string, unknown>(location, { valueEncoding: "json" });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === "LEVEL_LOCKED") {
        throw new SimhiveError(
          "SIMHIVE_ERR_STORE_LOCKED",
          `the data directory ${dataDir} is in use by another simhive process (LevelDB lock held); stop it first or set hub.dataDir to another directory`,
        );
      }
      throw new SimhiveError("SIMHIVE_ERR_STORE_OPEN", `cannot open the store in ${location}: ${(cause as Error | undefined)?.message ?? (error as Error).message}`, { cause: error });
    }
    const store = new Store(db, location);
    try {
      await migrate(store, log);
    } catch (error) {
      await db.close();
      throw error;
    }
    return store;
  }

  get isOpen(): boolean {
    return !this.#closed && this.db.status === "open";
  }

  sub<V = unknown>(name: CoreSublevel | `plugin:${string}`): Sublevel<V> {
    let sub = this.#subs.get(name);
    if (!sub) {
      sub = this.db.sublevel<string, V>(name, { valueEncoding: "json" });
      this.#subs.set(name, sub);
    }
    return sub as Sublevel<V>;
  }

  /**
   * Atomic and synced: resolves only once every operation is on disk.
   * Operations are encoded here (the sublevel's prefix on the key, the value
   * as JSON: exactly what the sublevel's json encoding would write) and
   * handed to the root as utf8, because abstract-level's per-operation
   * delegation and encoder lookups made up a third of the synchronous cost
   * of a batch: 2,100 operations (the 640-SMS bench burst) took 13-14 ms of
   * the event loop, now 9 ms (minimum of 30, three A/B runs).
   */
  async batch(ops: readonly BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    const encoded = ops.map((op) =>
      op.type === "put"
        ? { type: "put" as const, key: op.sublevel.prefixKey(op.key, "utf8"), value: JSON.stringify(op.value) }
        : { type: "del" as const, key: op.sublevel.prefixKey(op.key, "utf8") },
    );
    await this.db.batch(encoded as never, { sync: true, keyEncoding: "utf8", valueEncoding: "utf8" } as never);
  }

  async put(sublevel: Sublevel<any>, key: string, value: unknown): Promise<void> {
    await this.batch([{ type: "put", sublevel, key, value }]);
  }

  /**
   * Deletes the records of `range` in `sublevel` that `select(value, key)`
   * picks, in synced batches of 500 (retention: a large store is not read
   * into one batch); returns how many. `select` runs in key order and may
   * note what it picks (it is called once per record).
   */
  async deleteWhere<V>(sublevel: Sublevel<V>, range: KeyRange, select: (value: V, key: string) => boolean): Promise<number> {
    const ops: BatchOp[] = [];
    let removed = 0;
    for await (const [key, value] of sublevel.iterator(range)) {
      if (!select(value, key)) continue;
      ops.push({ type: "del", sublevel, key });
      removed++;
      if (ops.length >= DELETE_BATCH) await this.batch(ops.splice(0));
    }
    await this.batch(ops);
    return removed;
  }

  /** Retention: `fn(cutoffMs)` deletes what is older than the cutoff and returns how many. */
  registerPruner(name: string, fn: Pruner): void {
    this.#pruners.set(name, fn);
  }

  async prune(retentionDays: number, log: Logger, now = Date.now()): Promise<Record<string, number>> {
    const cutoff = now - retentionDays * 86_400_000;
    const removed: Record<string, number> = {};
    for (const [name, fn] of this.#pruners) {
      try {
        removed[name] = await fn(cutoff);
      } catch (error) {
        log.error({ err: error, pruner: name }, "retention pruning failed");
      }
    }
    return removed;
  }

  /** Bytes on disk of the database directory (an SD card is small and wears). */
  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const entry of await readdir(this.location)) {
      try {
        total += (await stat(join(this.location, entry))).size;
      } catch {
        // compaction may remove a file between readdir and stat
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.close();
  }
}

export { SCHEMA_VERSION };
