import { SimhiveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "./store.ts";

/** The store's schema version. Bump it and add a step when stored shapes change. */
export const SCHEMA_VERSION = 1;

type Step = (store: Store, log: Logger) => Promise<void>;

/**
 * steps[n] migrates a store from version n to n+1. Version 0 is a new, empty
 * store; its step only records the version.
 */
const steps: Step[] = [async () => {}];

export async function migrate(store: Store, log: Logger): Promise<void> {
  const meta = store.sub<number>("meta");
  const found = (await meta.get("schemaVersion")) ?? 0;
  if (found > SCHEMA_VERSION) {
    throw new SimhiveError(
      "SIMHIVE_ERR_STORE_VERSION",
      `the store in ${store.location} has schema version ${found}, newer than this simhive understands (${SCHEMA_VERSION}); install the newer simhive again or restore a backup`,
    );
  }
  for (let version = found; version < SCHEMA_VERSION; version++) {
    const step = steps[version];
    if (!step) throw new SimhiveError("SIMHIVE_ERR_STORE_VERSION", `no migration from schema version ${version}`);
    log.info({ from: version, to: version + 1 }, "migrating store");
    await step(store, log);
    await store.put(meta, "schemaVersion", version + 1);
  }
}
