import type { Context } from "koa";
import { counter, gauge } from "../../core/metrics.ts";
import type { OutboxHandle } from "../../core/activations/types.ts";
import type { PluginContext, PluginDefinition, PluginInstance } from "../../core/plugins.ts";
import { actionFromPath, createHandler, MARKETPLACE, type ApiState } from "./api.ts";
import { addressFilter } from "./auth.ts";
import { configSchema, withDefaults, type OnlinesimConfig } from "./config.ts";
import { createPushSink, type PushSettings } from "./push.ts";
import { normaliseServices, unknownServices } from "./services.ts";

/**
 * Onlinesim v1 partner API (seeds 000, 001, 002, 004): GET_SERVICES,
 * GET_NUMBER and FINISH_ACTIVATION at `path` (POST JSON, gzip or not, or GET
 * with query parameters, dispatched on `action`, or on the sub-paths
 * /getServices, /getNumber, /finishActivation), and the PUSH_SMS webhook
 * through core's durable outbox.
 */

function apiState(config: OnlinesimConfig): ApiState {
  const allowed = addressFilter(config.allowFrom);
  return {
    apiKey: config.apiKey,
    services: normaliseServices(config.services),
    ...(allowed ? { allowed } : {}),
    answerTimeoutMs: config.answerTimeoutSeconds * 1000,
  };
}

/** Seed 002:17: names in GET_SERVICES must come from the marketplace's lists. */
function warnUnknownServices(ctx: PluginContext<OnlinesimConfig>, config: OnlinesimConfig): void {
  const unknown = unknownServices(config.services);
  if (unknown.length === 0) return;
  ctx.log.warn(
    { services: unknown },
    "onlinesim.services holds names that are no known Onlinesim service code; GET_SERVICES publishes them as written, and Onlinesim expects codes from its service list (seed 002:17): check the spelling with partner support",
  );
}

function pushSettings(config: OnlinesimConfig, version: string): PushSettings {
  return {
    pushUrl: config.pushUrl,
    key: config.pushKey ?? config.apiKey,
    gzip: config.pushGzip,
    timeoutMs: config.pushTimeoutSeconds * 1000,
    retryIntervalMs: config.retrySeconds * 1000,
    concurrency: config.pushConcurrency,
    userAgent: `simhive/${version}`,
  };
}

function start(ctx: PluginContext<OnlinesimConfig>): PluginInstance {
  let config = withDefaults(ctx.config);
  let state = apiState(config);
  let settings = pushSettings(config, ctx.hub.version);

  const requests = counter(ctx.metrics, "simhive_onlinesim_requests_total", "Requests from Onlinesim, by action and answer status", ["action", "status"]);
  gauge(ctx.metrics, "simhive_onlinesim_numbers_available", "Numbers GET_NUMBER would issue now, per offered service (the GET_SERVICES 'any' sum)", ["service"], function () {
    this.reset();
    const tree = ctx.activations.counts(MARKETPLACE, state.services);
    const sums = new Map<string, number>(state.services.map((s) => [s, 0]));
    for (const operators of tree.values()) {
      for (const byService of operators.values()) for (const [service, count] of byService) sums.set(service, (sums.get(service) ?? 0) + count);
    }
    for (const [service, count] of sums) this.set({ service }, count);
  });

  const handle = createHandler({
    activations: ctx.activations,
    log: ctx.log,
    state: () => state,
    countRequest: (action, status) => requests.inc({ action, status }),
  });
  ctx.router.all("/", (koa: Context) => handle(koa));
  ctx.router.all("/:action", async (koa: Context, next) => {
    const segment = String((koa as Context & { params?: Record<string, string> }).params?.action ?? "");
    const action = actionFromPath(segment);
    if (!action) return next();
    await handle(koa, action);
  });

  warnUnknownServices(ctx, config);
  const outbox: OutboxHandle = ctx.activations.registerMarketplace(MARKETPLACE, createPushSink(() => settings, ctx.log));
  ctx.log.info({ path: config.path, services: state.services, pushUrl: new URL(config.pushUrl).origin, allowFrom: config.allowFrom?.length ?? 0 }, "onlinesim partner API ready");

  return {
    async stop() {
      await outbox.stop();
    },
    reload(next: OnlinesimConfig) {
      const candidate = withDefaults(next);
      if (candidate.path !== config.path) throw new Error("onlinesim.path changed: a restart is needed to move the routes");
      state = apiState(candidate);
      settings = pushSettings(candidate, ctx.hub.version);
      config = candidate;
      warnUnknownServices(ctx, config);
      ctx.log.info({ services: state.services }, "onlinesim config reloaded");
    },
  };
}

const onlinesim: PluginDefinition<OnlinesimConfig> = {
  name: "onlinesim",
  configSchema,
  routePrefix: (config) => (config.path ?? "/onlinesim").replace(/\/+$/, ""),
  start,
};

export default onlinesim;
export type { OnlinesimConfig };
