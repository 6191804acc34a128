import type { Context } from "koa";
import { ANY_OPERATOR, type ActivationsApi, type CountTree, type FinishReason } from "../../core/activations/types.ts";
import { SimhiveError, withTimeout } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import { keyMatches, presentedKey } from "./auth.ts";
import { readBody } from "./body.ts";
import { parseFinish, parseGetNumber } from "./requests.ts";
import { normaliseService } from "./services.ts";

export const MARKETPLACE = "onlinesim";

/** What the handlers read on every request; replaced whole on a config reload. */
export interface ApiState {
  apiKey: string;
  services: readonly string[];
  allowed?: (address: string) => boolean;
  answerTimeoutMs: number;
}

export interface ApiDeps {
  activations: ActivationsApi;
  log: Logger;
  state: () => ApiState;
  countRequest(action: string, status: string): void;
}

type Reply = { httpStatus?: number; body: Record<string, unknown> };

const BAD_KEY = { status: "ERROR", error: "BAD_KEY" } as const;

/** Sub-paths that name the action (seed 004 posts GET_SERVICES to /getServices). */
export function actionFromPath(segment: string): string | undefined {
  const normalised = segment.replace(/[_-]/g, "").toLowerCase();
  return { getservices: "GET_SERVICES", getnumber: "GET_NUMBER", finishactivation: "FINISH_ACTIVATION" }[normalised];
}

/** FINISH_ACTIVATION statuses (seed 001:158-164); others close without spending. */
export function finishReason(status: number): FinishReason {
  switch (status) {
    case 1:
      return "refused";
    case 3:
      return "sold";
    case 4:
      return "cancelled";
    case 5:
      return "refunded";
    default:
      return "closed";
  }
}

/**
 * GET_SERVICES body: one countryList entry per country; `any` sums the
 * operators (seed 004:12). The tree names only known countries; its
 * ANY_OPERATOR entry (SIMs of unknown operator) goes into `any` alone, so
 * every name published is one from the marketplace's lists (seed 002:17).
 */
export function servicesReply(tree: CountTree, services: readonly string[]): Record<string, unknown> {
  const countryList: { country: string; operatorMap: Record<string, Record<string, number>> }[] = [];
  for (const [country, operators] of tree) {
    const any: Record<string, number> = Object.fromEntries(services.map((s) => [s, 0]));
    const operatorMap: Record<string, Record<string, number>> = { any };
    for (const [operator, byService] of operators) {
      const counts: Record<string, number> = {};
      for (const service of services) {
        const count = byService.get(service) ?? 0;
        counts[service] = count;
        any[service] = (any[service] ?? 0) + count;
      }
      if (operator !== ANY_OPERATOR) operatorMap[operator] = counts;
    }
    countryList.push({ country, operatorMap });
  }
  return { countryList, status: "SUCCESS" };
}

function send(ctx: Context, reply: Reply): void {
  ctx.status = reply.httpStatus ?? 200;
  ctx.body = reply.body;
  ctx.type = "application/json; charset=utf-8";
}

/** The Koa handler for every Onlinesim request; `pathAction` comes from a sub-path. */
export function createHandler(deps: ApiDeps) {
  return async (ctx: Context, pathAction?: string): Promise<void> => {
    const state = deps.state();
    let action = pathAction ?? "UNKNOWN";
    let reply: Reply;
    try {
      if (state.allowed && !state.allowed(ctx.ip)) {
        deps.log.warn({ ip: ctx.ip }, "request from an address not in allowFrom");
        reply = { httpStatus: 403, body: BAD_KEY };
      } else {
        const query = { ...(ctx.query as Record<string, unknown>) };
        const read = await readBody(ctx);
        const body = read.ok ? read.body : {};
        const rawAction = pathAction ?? body.action ?? query.action;
        action = typeof rawAction === "string" ? rawAction.trim().toUpperCase() : "UNKNOWN";
        // The key first, whatever the body: a malformed one is answered only to a caller with the key (in the header or the query).
        if (!keyMatches(presentedKey(body, query, ctx.get("authorization") || undefined), state.apiKey)) {
          deps.log.warn({ ip: ctx.ip, action }, "request with a bad or missing key");
          reply = { httpStatus: 401, body: BAD_KEY };
        } else if (!read.ok) {
          deps.log.warn({ ip: ctx.ip, action, contentType: ctx.get("content-type") }, "request with a malformed body");
          reply = { httpStatus: 400, body: { status: "ERROR", error: "BAD_REQUEST", message: "malformed request body" } };
        } else {
          reply = await dispatch(action, { ...query, ...body }, state, deps);
        }
      }
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500) {
        reply = { httpStatus: status, body: { status: "ERROR", error: status === 413 ? "BODY_TOO_LARGE" : "BAD_REQUEST" } };
      } else {
        deps.log.error({ err: error, action }, "onlinesim request failed");
        reply = { httpStatus: 500, body: { status: "ERROR", error: "INTERNAL" } };
      }
    }
    const outcome = String(reply.body.error ?? reply.body.status ?? "");
    deps.countRequest(KNOWN_ACTIONS.has(action) ? action : "UNKNOWN", outcome);
    send(ctx, reply);
  };
}

const KNOWN_ACTIONS = new Set(["GET_SERVICES", "GET_NUMBER", "FINISH_ACTIVATION"]);

async function dispatch(action: string, params: Record<string, unknown>, state: ApiState, deps: ApiDeps): Promise<Reply> {
  switch (action) {
    case "GET_SERVICES":
      return { body: servicesReply(deps.activations.counts(MARKETPLACE, state.services), state.services) };
    case "GET_NUMBER":
      return getNumber(params, state, deps);
    case "FINISH_ACTIVATION":
      return finishActivation(params, deps);
    default:
      return { httpStatus: 400, body: { status: "ERROR", error: "BAD_ACTION" } };
  }
}

async function getNumber(params: Record<string, unknown>, state: ApiState, deps: ApiDeps): Promise<Reply> {
  const parsed = parseGetNumber(params);
  if (!parsed.ok) {
    deps.log.warn({ errors: parsed.errors }, "GET_NUMBER rejected");
    return { httpStatus: 400, body: { status: "ERROR", error: "BAD_REQUEST", message: parsed.errors.join("; ") } };
  }
  const { service: rawService, ...rest } = parsed.value;
  const service = normaliseService(rawService);
  if (!state.services.includes(service)) return { body: { status: "NO_NUMBERS" } };
  const reservation = deps.activations.reserve({ marketplace: MARKETPLACE, service, ...rest });
  let activation;
  try {
    activation = await withTimeout(reservation, state.answerTimeoutMs, "GET_NUMBER reservation");
  } catch (error) {
    if (error instanceof SimhiveError && error.code === "SIMHIVE_ERR_TIMEOUT") {
      // The partner hears NO_NUMBERS; a reservation finishing later must not hold the number.
      deps.log.warn({ service, ms: state.answerTimeoutMs }, "GET_NUMBER reservation too slow; answered NO_NUMBERS");
      reservation
        .then((late) => (late ? deps.activations.finish(MARKETPLACE, late.activationId, 0, "closed") : undefined))
        .catch((lateError: unknown) => deps.log.error({ err: lateError }, "could not release a late reservation"));
    } else {
      deps.log.error({ err: error, service }, "GET_NUMBER reservation failed; answered NO_NUMBERS");
    }
    return { body: { status: "NO_NUMBERS" } };
  }
  if (!activation) return { body: { status: "NO_NUMBERS" } };
  return { body: { status: "SUCCESS", number: Number(activation.msisdn), activationId: activation.activationId } };
}

async function finishActivation(params: Record<string, unknown>, deps: ApiDeps): Promise<Reply> {
  const parsed = parseFinish(params);
  if (!parsed.ok) {
    deps.log.warn({ errors: parsed.errors }, "FINISH_ACTIVATION rejected");
    return { httpStatus: 400, body: { status: "ERROR", error: "BAD_REQUEST", message: parsed.errors.join("; ") } };
  }
  const { activationId, status, sum } = parsed.value;
  const reason = finishReason(status);
  if (reason === "closed") deps.log.warn({ activationId, status }, "FINISH_ACTIVATION with a status outside 1/3/4/5; closed without spending the number");
  const result = await deps.activations.finish(MARKETPLACE, activationId, status, reason, sum === undefined ? {} : { sum });
  if (!result.found) return { body: { status: "ERROR", error: "NO_ACTIVATION" } };
  return { body: { status: "SUCCESS" } };
}
