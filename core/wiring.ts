/**
 * The factories the hub builds its modem layer and activations with. Kept in
 * one place so the hub depends on the contracts (core/modems/types.ts,
 * core/activations/types.ts), not on their internals.
 *
 * Interim: until core/modems and core/activations land, a hub has no modems
 * and hands out no numbers.
 */
import type { EventBus } from "./bus.ts";
import type { ActivationsApi, OutboxHandle } from "./activations/types.ts";
import type { Hooks } from "./hooks.ts";
import type { Logger } from "./log.ts";
import type { ModemLayer, ModemLayerDeps } from "./modems/types.ts";
import type { Registry } from "prom-client";
import type { Store } from "./store/store.ts";
import type { NumbersView } from "./types.ts";

export interface ActivationsService extends ActivationsApi {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ActivationsDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  hooks: Hooks;
  numbers: NumbersView;
  metrics: Registry;
  config: Record<string, unknown>;
}

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

export function createActivations(_deps: ActivationsDeps): ActivationsService {
  const none: OutboxHandle = { ready: async () => {}, stats: () => ({ pending: 0, givenUp: 0, delivered: 0 }), list: async () => [], stop: async () => {} };
  return {
    counts: () => new Map(),
    reserve: async () => null,
    finish: async () => ({ found: false }),
    get: async () => undefined,
    listRecent: async () => [],
    registerMarketplace: () => none,
    start: async () => {},
    stop: async () => {},
  };
}
