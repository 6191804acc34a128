import { Gauge } from "prom-client";
import { EventBus } from "./bus.ts";
import { type HubConfig, type LoadedConfig, loadConfigFile } from "./config/load.ts";
import { describeError } from "./errors.ts";
import { createHooks, type Hooks } from "./hooks.ts";
import { createAdminRouter, writeAdminToken } from "./http/admin.ts";
import { createHttpApp } from "./http/app.ts";
import { HttpServer } from "./http/server.ts";
import { createLogger, type Logger } from "./log.ts";
import { createMetrics, gaugeFrom } from "./metrics.ts";
import type { ModemLayer } from "./modems/types.ts";
import type { NotifierLike } from "./notify.ts";
import { createActivations } from "./activations/index.ts";
import { createModemLayer } from "./modems/index.ts";
import type { PluginResolver } from "./config/plugins.ts";
import { PluginHost } from "./plugins.ts";
import { MessageRepository } from "./store/messages.ts";
import { Store } from "./store/store.ts";
import { VERSION } from "./version.ts";

export interface HubOptions {
  loaded: LoadedConfig;
  log?: Logger;
  resolvePlugin?: PluginResolver;
  notifier?: NotifierLike;
  /** Options passed to the modem layer (tests give emulated ports). */
  modemOptions?: Parameters<typeof createModemLayer>[2];
}

/**
 * Wires config → store → modem layer → activations → plugins → HTTP, and
 * stops them in reverse. The HTTP server listens first so /readyz answers 503
 * while the rest starts.
 */
export class Hub {
  readonly log: Logger;
  readonly bus: EventBus;
  readonly hooks: Hooks;
  readonly store: Store;
  readonly modems: ModemLayer;
  readonly activations: ReturnType<typeof createActivations>;
  readonly plugins: PluginHost;
  readonly messages: MessageRepository;
  readonly metrics: ReturnType<typeof createMetrics>;
  #loaded: LoadedConfig;
  #server?: HttpServer;
  #ready = false;
  #stopping?: Promise<void>;
  #timers: NodeJS.Timeout[] = [];
  readonly #notifier?: NotifierLike;
  readonly #resolvePlugin?: PluginResolver;

  private constructor(options: HubOptions, log: Logger, store: Store) {
    this.#loaded = options.loaded;
    this.#notifier = options.notifier;
    this.#resolvePlugin = options.resolvePlugin;
    const config = options.loaded.config;
    this.log = log;
    this.store = store;
    this.bus = new EventBus(log.child({ component: "bus" }));
    this.metrics = createMetrics();
    this.hooks = createHooks(log.child({ component: "hooks" }), { metrics: this.metrics.registry });
    this.messages = new MessageRepository(store);
    this.modems = createModemLayer(config.modems, { log: log.child({ component: "modems" }), bus: this.bus, store }, options.modemOptions);
    this.activations = createActivations({
      store,
      bus: this.bus,
      log: log.child({ component: "activations" }),
      hooks: this.hooks,
      numbers: this.modems.numbers,
      metrics: this.metrics.registry,
      config: config.activations as never,
    });
    this.plugins = new PluginHost({
      log: log.child({ component: "plugins" }),
      bus: this.bus,
      store,
      hooks: this.hooks,
      hub: { id: config.hub.id, version: VERSION, dataDir: config.hub.dataDir },
      modems: this.modems,
      numbers: this.modems.numbers,
      activations: this.activations,
      metrics: this.metrics.registry,
    });
    store.registerPruner("messages", (cutoff) => this.messages.prune(cutoff));
    // One line per whole SMS; its text and sender (a code, a person's number) only when debug.logSmsText says so (as now: SIGHUP may change it).
    this.bus.on("sms.received", "core:hub", ({ message }) => {
      const base = { messageId: message.messageId, iccid: message.iccid, msisdn: message.msisdn, parts: message.parts, complete: message.complete };
      if (this.config.debug.logSmsText) log.info({ ...base, sender: message.sender, smsText: message.text }, "sms received (debug.logSmsText is on)");
      else log.info(base, "sms received");
    });
    this.#registerHubMetrics();
  }

  get config(): HubConfig {
    return this.#loaded.config;
  }

  get port(): number {
    return this.#server?.port ?? 0;
  }

  get ready(): boolean {
    return this.#ready;
  }

  static async start(options: HubOptions): Promise<Hub> {
    const config = options.loaded.config;
    const log = options.log ?? createLogger({ level: config.log.level });
    const store = await Store.open(config.hub.dataDir, log.child({ component: "store" }));
    const hub = new Hub(options, log, store);
    try {
      await hub.#start();
    } catch (error) {
      await hub.stop();
      throw error;
    }
    return hub;
  }

  async #start(): Promise<void> {
    const config = this.config;
    const admin = createAdminRouter({ token: await writeAdminToken(config.hub.dataDir), modems: this.modems, store: this.store });
    const app = createHttpApp({
      log: this.log.child({ component: "http" }),
      metrics: this.metrics,
      bodyLimitBytes: config.http.bodyLimitBytes,
      requestTimeoutMs: config.http.requestTimeoutSeconds * 1000,
      trustProxy: config.http.trustProxy,
      readiness: () => this.#readiness(),
      routers: () => [admin, ...this.plugins.routers()],
    });
    this.#server = await HttpServer.listen(app, {
      host: config.http.host,
      port: config.http.port,
      tls: config.http.tls,
      requestTimeoutMs: config.http.requestTimeoutSeconds * 1000,
    });
    this.log.info({ host: config.http.host, port: this.port, tls: Boolean(config.http.tls) }, "http listening");
    this.#notifier?.status("starting modems");
    await this.modems.start();
    await this.activations.start();
    this.#notifier?.status("starting plugins");
    await this.plugins.startAll(this.#loaded.plugins, config.plugins as never);
    this.#scheduleRetention();
    this.#ready = true;
    this.bus.emit("hub.started", { startedAt: Date.now() });
    const failed = this.plugins.list().filter((p) => p.status !== "running");
    this.log.info({ plugins: this.plugins.list(), modems: this.modems.list().length }, failed.length ? "hub started with failed plugins" : "hub started");
    this.#notifier?.ready(this.#statusLine());
  }

  #readiness() {
    const storeOpen = this.store.isOpen;
    const plugins = this.plugins.list();
    const ready = this.#ready && storeOpen && !this.#stopping && this.plugins.allRunning;
    return { ready, checks: { store: storeOpen ? "open" : "closed", starting: !this.#ready, plugins } };
  }

  #statusLine(): string {
    const modems = this.modems.list();
    return `${modems.filter((m) => m.state === "ready").length}/${modems.length} modems ready, ${this.modems.numbers.list().length} numbers`;
  }

  #scheduleRetention(): void {
    const run = async () => {
      const removed = await this.store.prune(this.config.hub.retentionDays, this.log);
      if (Object.values(removed).some((n) => n > 0)) this.log.info({ removed }, "retention pruned old records");
    };
    const first = setTimeout(() => void run(), 60_000);
    const every = setInterval(() => void run(), this.config.hub.pruneIntervalMinutes * 60_000);
    const status = setInterval(() => this.#notifier?.status(this.#statusLine()), 30_000);
    for (const timer of [first, every, status]) timer.unref();
    this.#timers.push(first, every, status);
  }

  #registerHubMetrics(): void {
    const registry = this.metrics.registry;
    gaugeFrom(registry, "simhive_store_size_bytes", "Bytes on disk of the LevelDB store", () => (this.store.isOpen ? this.store.sizeBytes() : 0));
    gaugeFrom(registry, "simhive_numbers_usable", "Numbers whose modem is ready and registered with a known number", () => this.modems.numbers.list().length);
    gaugeFrom(registry, "simhive_plugins_failed", "Enabled plugins that are not running", () => this.plugins.list().filter((p) => p.status !== "running").length);
    const listModems = () => this.modems.list();
    new Gauge({
      name: "simhive_modems",
      help: "Modems by state",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        this.reset();
        for (const modem of listModems()) this.inc({ state: modem.state });
      },
    });
  }

  /**
   * SIGHUP: re-read and validate the config file; on errors keep running with
   * the old one. Plugins set to `enabled: false` are stopped, newly enabled
   * ones started, running ones get their new sections; TLS files are re-read;
   * the modems are re-scanned. Changes that need a restart are named in the log.
   */
  async reload(): Promise<{ ok: boolean; errors?: string[]; restartNeeded?: string[] }> {
    let next: LoadedConfig;
    try {
      next = await loadConfigFile(this.#loaded.file, { env: this.#loaded.env, resolvePlugin: this.#resolvePlugin });
    } catch (error) {
      const errors = (error as { details?: string[] }).details ?? [describeError(error)];
      this.log.error({ errors }, "config reload failed; keeping the running config");
      return { ok: false, errors };
    }
    const before = this.config;
    const after = next.config;
    const changed = (Object.keys(after) as (keyof HubConfig)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    // From here on, readers of this.config (logSmsText, retention) see the new one.
    this.#loaded = next;
    const restartNeeded = await this.plugins.reload(after.plugins as never, next.plugins);
    const withoutTls = (http: HubConfig["http"]) => JSON.stringify({ ...http, tls: undefined });
    for (const section of ["hub", "http", "modems", "activations"] as const) {
      if (!changed.includes(section)) continue;
      if (section === "http" && withoutTls(before.http) === withoutTls(after.http) && Boolean(before.http.tls) === Boolean(after.http.tls)) continue;
      restartNeeded.push(section);
    }
    this.log.level = after.log.level;
    if (after.http.tls) {
      await this.#server?.reloadTls(after.http.tls).catch((error: unknown) => this.log.error({ err: error }, "TLS reload failed; keeping the old certificate"));
    }
    await this.modems.rescan().catch((error: unknown) => this.log.error({ err: error }, "modem re-scan failed"));
    this.bus.emit("config.reloaded", { changedSections: changed });
    if (restartNeeded.length) this.log.warn({ sections: restartNeeded }, "config changed where a restart is needed to apply it");
    this.log.info({ changed, plugins: this.plugins.list() }, "config reloaded");
    return { ok: true, restartNeeded };
  }

  /** Stop accepting, finish in-flight requests, stop plugins, close modems and the store. Idempotent. */
  stop(graceMs?: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs ?? this.config.hub.shutdownTimeoutSeconds * 1000);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#notifier?.stopping();
    this.bus.emit("hub.stopping", {});
    for (const timer of this.#timers) clearInterval(timer);
    const steps: [string, () => Promise<void>][] = [
      ["http", async () => this.#server?.close(Math.max(100, graceMs - 1500))],
      ["plugins", () => this.plugins.stopAll()],
      ["activations", () => this.activations.stop()],
      ["modems", () => this.modems.stop()],
      ["store", () => this.store.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.log.error({ err: error, step: name }, "error while stopping");
      }
    }
    this.#notifier?.close();
    this.log.info("hub stopped");
  }
}
