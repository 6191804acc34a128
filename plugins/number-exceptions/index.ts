/**
 * number-exceptions: the `numberFilter` hook. A number is not issued when it
 * matches a configured mask (all services, or the request's service). The
 * request's own exception prefixes (Onlinesim's `exceptionPhoneSet`) are
 * core's (core/activations/exceptions.ts): they hold with this plugin off.
 * See README.md for the mask syntax and the rule that decides between the
 * config file and the admin endpoint.
 */
import type { NumberRequest } from "../../core/activations/types.ts";
import { SimhiveError } from "../../core/errors.ts";
import type { NumberFilter } from "../../core/hooks.ts";
import type { PluginContext, PluginDefinition, PluginInstance } from "../../core/plugins.ts";
import type { NumberInfo } from "../../core/types.ts";
import { mountAdmin } from "./admin.ts";
import {
  compileMaskLists,
  configSchema,
  listsFingerprint,
  maskLists,
  maskListsProblems,
  unknownServiceWarnings,
  validateConfig,
  type CompiledMasks,
  type MaskLists,
  type NumberExceptionsConfig,
} from "./config.ts";

export { validateConfig } from "./config.ts";
export { MaskSet, maskProblem } from "./masks.ts";

const NAME = "number-exceptions";
const OVERRIDE_KEY = "override";

/** What the admin endpoint stores: the lists, and the config lists they replaced. */
interface StoredOverride {
  lists: MaskLists;
  /** `listsFingerprint` of the config file's lists when the override was made. */
  baseFingerprint: string;
  updatedAt: number;
}

function configError(problems: string[]): SimhiveError {
  return new SimhiveError("SIMHIVE_ERR_CONFIG", `invalid ${NAME} config: ${problems.join("; ")}`, { details: problems });
}

async function start(ctx: PluginContext<NumberExceptionsConfig>): Promise<PluginInstance> {
  const problems = validateConfig(ctx.config, `plugins.${NAME}`);
  if (problems.length > 0) throw configError(problems);
  const warnUnknown = (section: unknown) => {
    for (const warning of unknownServiceWarnings(section, `plugins.${NAME}`)) ctx.log.warn(warning);
  };
  warnUnknown(ctx.config);

  let config = ctx.config;
  let configLists = maskLists(config);
  let configFingerprint = listsFingerprint(configLists);
  let source: "config" | "admin" = "config";
  let updatedAt: number | undefined;
  let active: CompiledMasks;

  // An admin override survives a restart as long as the config file's lists
  // are the ones it replaced; once the file changes, the file wins.
  const stored = (await ctx.store.sub.get(OVERRIDE_KEY)) as StoredOverride | undefined;
  if (stored && stored.baseFingerprint === configFingerprint && maskListsProblems(stored.lists, "stored").length === 0) {
    active = compileMaskLists(maskLists(stored.lists));
    source = "admin";
    updatedAt = stored.updatedAt;
    ctx.log.info({ masks: stored.lists.masks.length, services: Object.keys(stored.lists.serviceMasks).length }, "using the masks set through the admin endpoint");
  } else {
    if (stored) {
      await ctx.store.sub.del(OVERRIDE_KEY);
      ctx.log.info("the config file's masks changed since the last admin change; the config file wins");
    }
    active = compileMaskLists(configLists);
  }

  const filter: NumberFilter = (candidate: NumberInfo, request: NumberRequest): boolean => {
    const compiled = active;
    let msisdn = candidate.msisdn;
    if (msisdn.charCodeAt(0) === 43 /* + */) msisdn = msisdn.slice(1);
    if (compiled.all.matches(msisdn)) return false;
    const forService = compiled.byService.get(request.service);
    return forService === undefined || !forService.matches(msisdn);
  };
  const unregister = ctx.hooks.numberFilter(filter);

  // Changes (admin PUT, reload) run one at a time so the store and memory agree.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  mountAdmin(ctx.router, {
    token: () => config.adminToken,
    allowRemote: () => config.adminAllowRemote === true,
    current: () => ({ lists: active.lists, source, ...(updatedAt ? { updatedAt } : {}) }),
    replace: (lists) =>
      serialized(async () => {
        const compiled = compileMaskLists(lists);
        const now = Date.now();
        const override: StoredOverride = { lists, baseFingerprint: configFingerprint, updatedAt: now };
        await ctx.store.batch([{ type: "put", sublevel: ctx.store.sub, key: OVERRIDE_KEY, value: override }]);
        active = compiled;
        source = "admin";
        updatedAt = now;
        ctx.log.info({ masks: lists.masks.length, services: Object.keys(lists.serviceMasks).length }, "masks replaced through the admin endpoint");
      }),
  });

  return {
    reload: (next: NumberExceptionsConfig) =>
      serialized(async () => {
        const nextProblems = validateConfig(next, `plugins.${NAME}`);
        if (nextProblems.length > 0) throw configError(nextProblems);
        warnUnknown(next);
        const nextLists = maskLists(next);
        const nextFingerprint = listsFingerprint(nextLists);
        if (nextFingerprint !== configFingerprint || source === "config") {
          const compiled = compileMaskLists(nextLists);
          if (source === "admin") await ctx.store.batch([{ type: "del", sublevel: ctx.store.sub, key: OVERRIDE_KEY }]);
          active = compiled;
          source = "config";
          updatedAt = undefined;
          ctx.log.info({ masks: nextLists.masks.length, services: Object.keys(nextLists.serviceMasks).length }, "masks reloaded from the config file");
        }
        config = next;
        configLists = nextLists;
        configFingerprint = nextFingerprint;
      }),
    stop: async () => {
      unregister();
      await queue;
    },
  };
}

const definition: PluginDefinition<NumberExceptionsConfig> & { validateConfig: typeof validateConfig } = {
  name: NAME,
  configSchema,
  validateConfig,
  start,
};

export default definition;
