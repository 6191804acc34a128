/**
 * Starts one plugin through the real PluginHost: a real Store in a mkdtemp
 * directory, the EventBus, the hook registries and a prom-client Registry.
 * The activations API is a stub that throws: these plugins never call it.
 * Shared by the number-exceptions and sms-filter tests.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import Koa from "koa";
import { Registry } from "prom-client";
import type { ActivationsApi, NumberRequest } from "../../../core/activations/types.ts";
import { EventBus } from "../../../core/bus.ts";
import { createHooks, type Hooks } from "../../../core/hooks.ts";
import { silentLogger, type Logger } from "../../../core/log.ts";
import { PluginHost, type PluginDefinition } from "../../../core/plugins.ts";
import { Store } from "../../../core/store/store.ts";
import type { ModemsView, NumberInfo, NumbersView } from "../../../core/types.ts";

function unused(): never {
  throw new Error("the activations API is not used by this plugin");
}

export const activationsStub: ActivationsApi = {
  counts: unused,
  reserve: unused,
  finish: unused,
  get: unused,
  listRecent: unused,
  registerMarketplace: unused,
  outboxStats: unused,
};

export function numbersView(list: NumberInfo[]): NumbersView {
  return { list: () => list, byMsisdn: (msisdn) => list.find((n) => n.msisdn === msisdn) };
}

const modemsView: ModemsView = { list: () => [], get: () => undefined, command: async () => {} };

export function number(msisdn: string, index = 0): NumberInfo {
  return { msisdn, iccid: `8970102000000000${String(index).padStart(4, "0")}`, imei: `86000000000${String(index).padStart(4, "0")}`, country: "russia", operator: "mts" };
}

export function request(service: string, exceptionPrefixes: readonly unknown[] = []): NumberRequest {
  return { marketplace: "onlinesim", service, exceptionPrefixes: exceptionPrefixes as string[] };
}

export interface Running {
  host: PluginHost;
  bus: EventBus;
  hooks: Hooks;
  metrics: Registry;
  store: Store;
  dataDir: string;
  /** Stops the plugins and closes the store (the data directory stays). */
  stop(): Promise<void>;
}

/** Starts `definition` with `section` (the plugin's config, as validated). */
export async function startPlugin(
  definition: PluginDefinition,
  section: Record<string, unknown>,
  options: { dataDir?: string; numbers?: NumberInfo[]; log?: Logger } = {},
): Promise<Running> {
  const log = options.log ?? silentLogger();
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "simhive-plugin-")));
  const store = await Store.open(dataDir, log);
  const hooks = createHooks(log);
  const metrics = new Registry();
  const bus = new EventBus(log);
  const host = new PluginHost({
    log,
    bus,
    store,
    hooks,
    hub: { id: "test-hub", version: "0.0.0", dataDir },
    modems: modemsView,
    numbers: numbersView(options.numbers ?? []),
    activations: activationsStub,
    metrics,
  });
  await host.startAll([definition], { [definition.name]: section });
  let stopped = false;
  return {
    host,
    bus,
    hooks,
    metrics,
    store,
    dataDir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await host.stopAll();
      await store.close();
    },
  };
}

/**
 * A `start` for one suite: each plugin it starts (with `defaults` under the
 * call's own options) is stopped and its data directory removed after the
 * suite. Call it inside `describe`.
 */
export function pluginStarter(definition: PluginDefinition, defaults: Parameters<typeof startPlugin>[2] = {}): (section: Record<string, unknown>, options?: Parameters<typeof startPlugin>[2]) => Promise<Running> {
  const running: Running[] = [];
  after(async () => {
    for (const plugin of running) {
      await plugin.stop();
      await removeDir(plugin.dataDir);
    }
  });
  return async (section, options = {}) => {
    const plugin = await startPlugin(definition, section, { ...defaults, ...options });
    running.push(plugin);
    return plugin;
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Serves the running plugins' routers with a real Koa app on port 0, on
 * 127.0.0.1 unless `host` says otherwise; `url` always names 127.0.0.1.
 */
export async function serveRouters(host: PluginHost, options: { proxy?: boolean; host?: string } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Koa();
  app.proxy = options.proxy ?? false;
  for (const router of host.routers()) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  const server = app.listen(0, options.host ?? "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
