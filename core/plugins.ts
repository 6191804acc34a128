import Router from "@koa/router";
import type { Registry } from "prom-client";
import type { ActivationsApi } from "./activations/types.ts";
import type { EventBus, ScopedBus } from "./bus.ts";
import { orderByDependencies } from "./config/plugins.ts";
import { describeError, withTimeout } from "./errors.ts";
import type { Hooks, NumberFilter, SmsFilter } from "./hooks.ts";
import type { Logger } from "./log.ts";
import type { BatchOp, Store, Sublevel } from "./store/store.ts";
import type { ModemsView, NumbersView } from "./types.ts";

/** A JSON Schema object for a plugin's config section (validated with ajv). */
export type JsonSchema = Record<string, unknown>;

/**
 * What a plugin's `index.ts` default-exports. The definition does nothing on
 * import; `start(ctx)` does the work and returns what `stop()` must undo.
 */
export interface PluginDefinition<C = any> {
  name: string;
  /** JSON Schema of the plugin's config section, without `enabled` (the host adds it). */
  configSchema: JsonSchema;
  /** Names of plugins that must be enabled and started first. */
  dependencies?: readonly string[];
  /**
   * Checks ajv cannot express (regexes that must compile, cross-key rules),
   * run on the section once it passed the schema. Returns `path: message`
   * lines with full config paths (`plugins.<name>.masks[2]: ...`).
   */
  validateConfig?(section: C): string[];
  /** Where the plugin's router is mounted; `/<name>` by default. */
  routePrefix?: (config: C) => string;
  /** How long `start` may take; 10 s by default. */
  startTimeoutMs?: number;
  start(ctx: PluginContext<C>): Promise<PluginInstance | void> | PluginInstance | void;
}

export interface PluginInstance {
  stop?(): Promise<void> | void;
  /** Called with the new section when the config is reloaded (SIGHUP); absent → a restart is needed. */
  reload?(config: any): Promise<void> | void;
}

export interface HubInfo {
  id: string;
  version: string;
  dataDir: string;
}

/** Everything a plugin may touch. A plugin never imports another plugin or core internals. */
export interface PluginContext<C = any> {
  name: string;
  config: C;
  hub: HubInfo;
  log: Logger;
  bus: ScopedBus;
  /** The plugin's own sublevel, and synced batches (which may also carry its ops on core sublevels given to it). */
  store: { sub: Sublevel<any>; sublevel<V = unknown>(name: string): Sublevel<V>; batch(ops: readonly BatchOp[]): Promise<void> };
  modems: ModemsView;
  numbers: NumbersView;
  activations: ActivationsApi;
  router: Router;
  hooks: {
    numberFilter(fn: NumberFilter): () => void;
    smsFilter(fn: SmsFilter): () => void;
  };
  metrics: Registry;
}

export type PluginStatus = "loaded" | "starting" | "running" | "failed" | "stopped";

interface Slot {
  definition: PluginDefinition;
  config: Record<string, unknown>;
  status: PluginStatus;
  error?: string;
  instance?: PluginInstance;
  router?: Router;
  prefix?: string;
}

export interface PluginHostDeps {
  log: Logger;
  bus: EventBus;
  store: Store;
  hooks: Hooks;
  hub: HubInfo;
  modems: ModemsView;
  numbers: NumbersView;
  activations: ActivationsApi;
  metrics: Registry;
  defaultStartTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/**
 * Starts plugins in dependency order, each inside its own try/catch and with a
 * timeout (Fastify's pluginTimeout, zigbee2mqtt's startExtension): a plugin
 * that fails is logged by name and left stopped, and so is every plugin that
 * depends on it; the others run. Stops in reverse order, each isolated.
 */
export class PluginHost {
  readonly #deps: PluginHostDeps;
  readonly #slots: Slot[] = [];

  constructor(deps: PluginHostDeps) {
    this.#deps = deps;
  }

  /** `sections` are validated config sections keyed by plugin name (already ordered). */
  async startAll(definitions: readonly PluginDefinition[], sections: Record<string, Record<string, unknown>>): Promise<void> {
    for (const definition of orderByDependencies(definitions)) {
      const slot: Slot = { definition, config: sections[definition.name] ?? {}, status: "loaded" };
      this.#slots.push(slot);
      const failedDependency = (definition.dependencies ?? []).find((name) => this.status(name) !== "running");
      if (failedDependency) {
        slot.status = "failed";
        slot.error = `dependency "${failedDependency}" is not running`;
        this.#deps.log.error({ plugin: definition.name, dependency: failedDependency }, "plugin not started: a dependency is not running");
        continue;
      }
      await this.#start(slot);
    }
  }

  async #start(slot: Slot): Promise<void> {
    const { definition, config } = slot;
    const log = this.#deps.log.child({ plugin: definition.name });
    const prefix = definition.routePrefix?.(config) ?? `/${definition.name}`;
    const router = new Router({ prefix });
    const ctx = this.#context(definition.name, config, log, router);
    slot.status = "starting";
    const timeoutMs = definition.startTimeoutMs ?? this.#deps.defaultStartTimeoutMs ?? 10_000;
    const started = Promise.resolve().then(() => definition.start(ctx));
    try {
      slot.instance = (await withTimeout(started, timeoutMs, `plugin ${definition.name} start`)) ?? {};
      slot.router = router;
      slot.prefix = prefix;
      slot.status = "running";
      log.info({ prefix }, "plugin started");
    } catch (error) {
      slot.status = "failed";
      slot.error = describeError(error);
      log.error({ err: error }, "plugin failed to start; left stopped");
      this.#cleanup(definition.name);
      // A start that finishes after its timeout still gets its stop().
      started.then((instance) => instance?.stop?.()).catch(() => {});
    }
  }

  #context(name: string, config: Record<string, unknown>, log: Logger, router: Router): PluginContext {
    const { bus, store, hooks } = this.#deps;
    return {
      name,
      config,
      hub: this.#deps.hub,
      log,
      bus: bus.scoped(name),
      store: {
        sub: store.sub(`plugin:${name}`),
        sublevel: <V>(sub: string) => store.sub<V>(`plugin:${name}:${sub}` as `plugin:${string}`),
        batch: (ops) => store.batch(ops),
      },
      modems: this.#deps.modems,
      numbers: this.#deps.numbers,
      activations: this.#deps.activations,
      router,
      hooks: {
        numberFilter: (fn) => hooks.numberFilter.register(name, fn),
        smsFilter: (fn) => hooks.smsFilter.register(name, fn),
      },
      metrics: this.#deps.metrics,
    };
  }

  #cleanup(name: string): void {
    this.#deps.bus.removeOwner(name);
    this.#deps.hooks.numberFilter.removeOwner(name);
    this.#deps.hooks.smsFilter.removeOwner(name);
  }

  /** Reverse order; each stop isolated and bounded, listeners and hooks always removed. */
  async stopAll(): Promise<void> {
    const timeoutMs = this.#deps.stopTimeoutMs ?? 5_000;
    for (const slot of [...this.#slots].reverse()) {
      if (slot.status !== "running") continue;
      const name = slot.definition.name;
      try {
        const stop = slot.instance?.stop;
        if (stop) await withTimeout(Promise.resolve().then(() => stop.call(slot.instance)), timeoutMs, `plugin ${name} stop`);
        this.#deps.log.info({ plugin: name }, "plugin stopped");
      } catch (error) {
        this.#deps.log.error({ plugin: name, err: error }, "plugin failed to stop cleanly");
      } finally {
        slot.status = "stopped";
        this.#cleanup(name);
      }
    }
  }

  /** Hands each running plugin its new section; returns the names that need a restart instead. */
  async reload(sections: Record<string, Record<string, unknown>>): Promise<string[]> {
    const needRestart: string[] = [];
    for (const slot of this.#slots) {
      const next = sections[slot.definition.name];
      if (!next || JSON.stringify(next) === JSON.stringify(slot.config)) continue;
      if (slot.status === "running" && slot.instance?.reload) {
        try {
          await slot.instance.reload(next);
          slot.config = next;
        } catch (error) {
          this.#deps.log.error({ plugin: slot.definition.name, err: error }, "plugin rejected the reloaded config; keeping the old one");
        }
      } else {
        needRestart.push(slot.definition.name);
      }
    }
    return needRestart;
  }

  status(name: string): PluginStatus | undefined {
    return this.#slots.find((s) => s.definition.name === name)?.status;
  }

  list(): { name: string; status: PluginStatus; error?: string }[] {
    return this.#slots.map((s) => ({ name: s.definition.name, status: s.status, ...(s.error ? { error: s.error } : {}) }));
  }

  /** True when every enabled plugin is running. */
  get allRunning(): boolean {
    return this.#slots.every((s) => s.status === "running");
  }

  /** Routers of running plugins, for the HTTP app's dispatcher. */
  routers(): Router[] {
    return this.#slots.filter((s) => s.status === "running" && s.router).map((s) => s.router as Router);
  }
}
