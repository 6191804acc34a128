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
 * depends on it; the others run. Stops in reverse order, each isolated. A
 * plugin's registrations (hooks, bus listeners) count only while it is
 * starting or running: a start that finishes after its timeout, or code that
 * runs on after stop, registers nothing.
 */
export class PluginHost {
  readonly #deps: PluginHostDeps;
  readonly #slots: Slot[] = [];

  constructor(deps: PluginHostDeps) {
    this.#deps = deps;
  }

  /** `sections` are validated config sections keyed by plugin name. */
  async startAll(definitions: readonly PluginDefinition[], sections: Record<string, Record<string, unknown>>): Promise<void> {
    for (const definition of orderByDependencies(definitions)) await this.#add(definition, sections[definition.name] ?? {});
  }

  /** A new slot, started unless a dependency is not running. */
  async #add(definition: PluginDefinition, config: Record<string, unknown>): Promise<void> {
    const slot: Slot = { definition, config, status: "loaded" };
    this.#slots.push(slot);
    const failedDependency = (definition.dependencies ?? []).find((name) => this.status(name) !== "running");
    if (failedDependency) {
      slot.status = "failed";
      slot.error = `dependency "${failedDependency}" is not running`;
      this.#deps.log.error({ plugin: definition.name, dependency: failedDependency }, "plugin not started: a dependency is not running");
      return;
    }
    await this.#start(slot);
  }

  async #start(slot: Slot): Promise<void> {
    const { definition, config } = slot;
    const log = this.#deps.log.child({ plugin: definition.name });
    const prefix = definition.routePrefix?.(config) ?? `/${definition.name}`;
    const router = new Router({ prefix });
    const ctx = this.#context(slot, log, router);
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

  #context(slot: Slot, log: Logger, router: Router): PluginContext {
    const { bus, store, hooks } = this.#deps;
    const name = slot.definition.name;
    // Registrations of a plugin whose start failed (or timed out) or that was stopped are refused.
    const live = <A extends unknown[]>(what: string, register: (...args: A) => () => void) => (...args: A): (() => void) => {
      if (slot.status === "starting" || slot.status === "running") return register(...args);
      log.warn({ status: slot.status, registration: what }, "plugin registered after its start failed or it stopped; ignored");
      return () => {};
    };
    const scoped = bus.scoped(name);
    return {
      name,
      config: slot.config,
      hub: this.#deps.hub,
      log,
      bus: { ...scoped, on: live("bus listener", scoped.on) as ScopedBus["on"] },
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
        numberFilter: live("numberFilter", (fn: NumberFilter) => hooks.numberFilter.register(name, fn)),
        smsFilter: live("smsFilter", (fn: SmsFilter) => hooks.smsFilter.register(name, fn)),
      },
      metrics: this.#deps.metrics,
    };
  }

  #cleanup(name: string): void {
    this.#deps.bus.removeOwner(name);
    this.#deps.hooks.numberFilter.removeOwner(name);
    this.#deps.hooks.smsFilter.removeOwner(name);
  }

  /** Stops one running plugin, isolated and bounded; its listeners and hooks are always removed. */
  async #stop(slot: Slot): Promise<void> {
    const name = slot.definition.name;
    const wasRunning = slot.status === "running";
    slot.status = "stopped";
    try {
      const stop = slot.instance?.stop;
      if (wasRunning && stop) await withTimeout(Promise.resolve().then(() => stop.call(slot.instance)), this.#deps.stopTimeoutMs ?? 5_000, `plugin ${name} stop`);
      if (wasRunning) this.#deps.log.info({ plugin: name }, "plugin stopped");
    } catch (error) {
      this.#deps.log.error({ plugin: name, err: error }, "plugin failed to stop cleanly");
    } finally {
      this.#cleanup(name);
    }
  }

  /** Reverse order; each stop isolated and bounded, listeners and hooks always removed. */
  async stopAll(): Promise<void> {
    for (const slot of [...this.#slots].reverse()) {
      if (slot.status === "running") await this.#stop(slot);
    }
  }

  /**
   * A reloaded config (SIGHUP). With `enabled` (the plugins the new config
   * enables, dependencies first), plugins no longer in it are stopped, their
   * dependents first, and taken off the host; plugins new in it are started,
   * in dependency order. Running plugins whose section changed get it through
   * `reload`. Returns the names whose change needs a restart (no `reload`,
   * or not running).
   */
  async reload(sections: Record<string, Record<string, unknown>>, enabled?: readonly PluginDefinition[]): Promise<string[]> {
    if (enabled) {
      // Gone: the plugins no longer enabled, and whatever depends on one of them (a config check refuses
      // such a config, but a dependent must never outlive its dependency). A dependent still enabled is
      // added again below, and fails there for want of its dependency.
      const gone = new Set(this.#slots.map((slot) => slot.definition.name).filter((name) => !enabled.some((definition) => definition.name === name)));
      for (let grew = true; grew; ) {
        grew = false;
        for (const { definition } of this.#slots) {
          if (gone.has(definition.name) || !(definition.dependencies ?? []).some((name) => gone.has(name))) continue;
          gone.add(definition.name);
          grew = true;
        }
      }
      for (const slot of [...this.#slots].reverse()) {
        if (!gone.has(slot.definition.name)) continue;
        await this.#stop(slot);
        this.#slots.splice(this.#slots.indexOf(slot), 1);
        this.#deps.log.info({ plugin: slot.definition.name }, "plugin stopped: the reloaded config disables it (or a plugin it needs)");
      }
    }
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
    for (const definition of enabled ?? []) {
      if (this.#slots.some((slot) => slot.definition.name === definition.name)) continue;
      this.#deps.log.info({ plugin: definition.name }, "plugin enabled by the reloaded config");
      await this.#add(definition, sections[definition.name] ?? {});
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
