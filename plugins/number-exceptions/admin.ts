import { bearerToken, sameSecret } from "../../core/secrets.ts";
import { bodyParser } from "@koa/bodyparser";
import type Router from "@koa/router";
import type { Context, Next } from "koa";
import type { MaskLists } from "./config.ts";
import { maskLists, maskListsProblems, unknownServiceWarnings } from "./config.ts";

export interface AdminState {
  /** Current token; the endpoint answers 404 without one. */
  token(): string | undefined;
  allowRemote(): boolean;
  current(): { lists: MaskLists; source: "config" | "admin"; updatedAt?: number };
  /** Persists, then applies; resolves once both are done. */
  replace(lists: MaskLists): Promise<void>;
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  const address = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return address === "::1" || address.startsWith("127.");
}

/**
 * A request is local when its socket comes from loopback and no proxy
 * forwarded it. Never `ctx.ip`: with `http.trustProxy` on it is whatever
 * X-Forwarded-For says, and a reverse proxy on the same host makes every
 * client's socket a loopback one (core/http/admin.ts checks the same way).
 */
export function isLocalRequest(ctx: Context): boolean {
  if (ctx.get("x-forwarded-for") || ctx.get("forwarded") || ctx.get("x-real-ip")) return false;
  return isLoopback(ctx.req.socket.remoteAddress);
}

/** Constant-time comparison of the presented bearer token (core/secrets.ts). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  return sameSecret(bearerToken(header), token);
}

/**
 * `GET /masks` and `PUT /masks` under the plugin's prefix. Off (404) without
 * `adminToken`; local requests only (`isLocalRequest`) unless
 * `adminAllowRemote`; Bearer token checked in constant time, always.
 */
export function mountAdmin(router: Router, state: AdminState): void {
  const guard = async (ctx: Context, next: Next): Promise<void> => {
    const token = state.token();
    if (!token) {
      ctx.status = 404;
      ctx.body = { error: "the admin endpoint is disabled (no adminToken configured)" };
      return;
    }
    if (!state.allowRemote() && !isLocalRequest(ctx)) {
      ctx.status = 403;
      ctx.body = { error: "the admin endpoint answers local clients only (a loopback connection, not through a proxy)" };
      return;
    }
    if (!tokenMatches(ctx.get("authorization") || undefined, token)) {
      ctx.status = 401;
      ctx.set("WWW-Authenticate", 'Bearer realm="simhive"');
      ctx.body = { error: "missing or wrong bearer token" };
      return;
    }
    await next();
  };

  const show = (ctx: Context): void => {
    const { lists, source, updatedAt } = state.current();
    ctx.body = { masks: lists.masks, serviceMasks: lists.serviceMasks, source, ...(updatedAt ? { updatedAt: new Date(updatedAt).toISOString() } : {}) };
  };

  router.get("/masks", guard, show);
  const parseJson = bodyParser({
    enableTypes: ["json"],
    jsonLimit: "256kb",
    onError: (_error, ctx) => {
      ctx.state.invalidBody = true;
    },
  });
  router.put("/masks", guard, parseJson, async (ctx: Context) => {
    if (ctx.state.invalidBody) {
      ctx.status = 400;
      ctx.body = { error: "the body must be JSON: {\"masks\": [...], \"serviceMasks\": {...}}" };
      return;
    }
    const body = (ctx.request as { body?: unknown }).body;
    const problems = maskListsProblems(body, "body");
    if (problems.length === 0) {
      if (!Array.isArray((body as { masks?: unknown }).masks)) problems.push("body.masks: is required");
      for (const key of Object.keys(body as object)) if (key !== "masks" && key !== "serviceMasks") problems.push(`body.${key}: unknown key`);
    }
    if (problems.length > 0) {
      ctx.status = 400;
      ctx.body = { error: "invalid masks", details: problems };
      return;
    }
    const { masks, serviceMasks } = body as { masks: string[]; serviceMasks?: Record<string, string[]> };
    await state.replace(maskLists({ masks, ...(serviceMasks ? { serviceMasks } : {}) }));
    show(ctx);
    const warnings = unknownServiceWarnings(body, "body");
    if (warnings.length > 0) ctx.body = { ...(ctx.body as object), warnings };
  });
}
