/**
 * sms-filter: the `smsFilter` hook. For an SMS that arrived on a number with
 * an active activation it decides forward, or drop with a reason (stored with
 * the SMS by core routing). Every decision is counted in
 * `simhive_sms_filter_decisions_total{service,decision,reason}`.
 * See README.md for the rules, their order and the unmatched policy.
 */
import { Counter } from "prom-client";
import type { Activation } from "../../core/activations/types.ts";
import { SimhiveError } from "../../core/errors.ts";
import type { SmsDecision, SmsFilter } from "../../core/hooks.ts";
import type { PluginContext, PluginDefinition, PluginInstance } from "../../core/plugins.ts";
import type { SmsMessage } from "../../core/types.ts";
import { configSchema, prepare, validateConfig, type Prepared, type SmsFilterConfig } from "./config.ts";
import { decide } from "./decide.ts";

export { validateConfig, prepare, SHIPPED_RULES_FILE } from "./config.ts";
export { decide, hasCode } from "./decide.ts";

const NAME = "sms-filter";
export const DECISIONS_METRIC = "simhive_sms_filter_decisions_total";

const FORWARD: SmsDecision = { action: "forward" };

async function prepared(section: SmsFilterConfig): Promise<Prepared> {
  const { prepared: result, problems } = await prepare(section, `plugins.${NAME}`);
  if (!result) throw new SimhiveError("SIMHIVE_ERR_CONFIG", `invalid ${NAME} config: ${problems.join("; ")}`, { details: problems });
  return result;
}

function decisionsCounter(ctx: PluginContext): Counter<"service" | "decision" | "reason"> {
  const existing = ctx.metrics.getSingleMetric(DECISIONS_METRIC);
  if (existing) return existing as Counter<"service" | "decision" | "reason">;
  return new Counter({
    name: DECISIONS_METRIC,
    help: "SMS on reserved numbers decided by the sms-filter plugin, by activation service, decision and reason",
    labelNames: ["service", "decision", "reason"] as const,
    registers: [ctx.metrics],
  });
}

async function start(ctx: PluginContext<SmsFilterConfig>): Promise<PluginInstance> {
  let section = ctx.config;
  let current = await prepared(section);
  const decisions = decisionsCounter(ctx);
  ctx.log.info({ mode: current.mode, services: current.rules.services.length, rulesFile: current.rulesFile }, "sms filter ready");

  const filter: SmsFilter = (message: SmsMessage, activation: Activation): SmsDecision => {
    const state = current;
    if (state.mode === "off") {
      decisions.inc({ service: activation.service, decision: "forward", reason: "mode-off" });
      return FORWARD;
    }
    const verdict = decide(state.rules, state.options, message.sender, message.text, activation.service);
    decisions.inc({ service: activation.service, decision: verdict.action, reason: verdict.reason });
    ctx.log.debug({ activationId: activation.activationId, messageId: message.messageId, decision: verdict.action, reason: verdict.reason }, "sms filtered");
    return verdict.action === "forward" ? FORWARD : { action: "drop", reason: verdict.reason };
  };
  const unregister = ctx.hooks.smsFilter(filter);

  // Reads (reload, and the rulesFile re-read on config.reloaded) may overlap
  // and finish out of order: each takes a generation when it starts, and a
  // read finishing after a later-started one was applied is discarded.
  let started = 0;
  let applied = 0;
  const load = async (next: SmsFilterConfig): Promise<Prepared | undefined> => {
    const generation = ++started;
    const result = await prepared(next);
    if (generation < applied) {
      ctx.log.info({ generation, applied }, "rules re-read overtaken by a newer reload; discarded");
      return undefined;
    }
    applied = generation;
    section = next;
    current = result;
    return result;
  };

  // A SIGHUP re-reads an operator's rulesFile even when the section itself is unchanged.
  const offReloaded = ctx.bus.on("config.reloaded", async () => {
    if (!section.rulesFile) return;
    try {
      await load(section);
    } catch (error) {
      ctx.log.error({ err: error }, "rules file rejected on reload; keeping the previous rules");
    }
  });

  return {
    reload: async (next: SmsFilterConfig) => {
      const result = await load(next);
      if (result) ctx.log.info({ mode: result.mode, services: result.rules.services.length }, "sms filter reloaded");
    },
    stop: () => {
      unregister();
      offReloaded();
    },
  };
}

const definition: PluginDefinition<SmsFilterConfig> & { validateConfig: typeof validateConfig } = {
  name: NAME,
  configSchema,
  validateConfig,
  start,
};

export default definition;
