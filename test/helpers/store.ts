import type { Store } from "../../core/store/store.ts";

export interface SeenBatch {
  /** The keys as LevelDB gets them (sublevel prefix included). */
  keys: string[];
  sync?: boolean;
}

/**
 * Records what reaches LevelDB's binding: classic-level's _batch hands its
 * operations and options to batch_do. A spy for a fault real parts cannot
 * show: a SIGKILL leaves the page cache intact, so only a power cut would
 * show a batch written without fsync.
 */
export function spyOnBatches(store: Store): SeenBatch[] {
  const db = store.db as unknown as { _batch(ops: { key: unknown }[], options: { sync?: boolean }): Promise<void> };
  const original = db._batch.bind(db);
  const seen: SeenBatch[] = [];
  db._batch = (ops, options) => {
    seen.push({ keys: ops.map((op) => String(op.key)), sync: options.sync });
    return original(ops, options);
  };
  return seen;
}
