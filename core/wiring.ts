/**
 * The factories the hub builds its modem layer and activations with. Kept in
 * one place so the hub depends on the contracts (core/modems/types.ts,
 * core/activations/types.ts), not on their internals.
 *
 * Interim: until core/modems lands, a hub has no modems.
 */
import type { ModemLayer, ModemLayerDeps } from "./modems/types.ts";

export function createModemLayer(_config: Record<string, unknown>, _deps: ModemLayerDeps, _options?: unknown): ModemLayer {
  return {
    numbers: { list: () => [], byMsisdn: () => undefined },
    list: () => [],
    get: () => undefined,
    command: async () => {
      throw new Error("no modems");
    },
    start: async () => {},
    stop: async () => {},
    rescan: async () => {},
  };
}

export { createActivations } from "./activations/index.ts";
