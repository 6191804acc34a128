import { randomUUID } from "node:crypto";
import { bodyParser } from "@koa/bodyparser";
import type Router from "@koa/router";
import Koa from "koa";
import compress from "koa-compress";
import type { Registry } from "prom-client";
import { isSimhiveError, withTimeout } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { HttpMetrics } from "../metrics.ts";

export interface Readiness {
  ready: boolean;
  checks: Record<string, unknown>;
}

export interface HttpAppDeps {
  log: Logger;
  metrics: { registry: Registry; http: HttpMetrics };
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  trustProxy: boolean;
  readiness: () => Readiness;
  /** Routers of running plugins, consulted on every request (plugins start after the server listens). */
  routers: () => readonly Router[];
}

/** Error codes in JSON error bodies, by HTTP status. */
const ERROR_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  413: "BODY_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The Koa app: error middleware first (JSON bodies, no stack traces to
 * clients), request ids, access log lines (path without query string, never
 * bodies), a per-request deadline, gzip both ways, a body size limit, then
 * /healthz, /readyz, /metrics and the plugins' routers.
 */
export function createHttpApp(deps: HttpAppDeps): Koa {
  const app = new Koa({ proxy: deps.trustProxy });
  app.silent = true; // errors are logged by our middleware, once, without bodies

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get("x-request-id");
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set("X-Request-Id", requestId);
    try {
      await withTimeout(next(), deps.requestTimeoutMs, "request");
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { status: "ERROR", error: "NOT_FOUND", message: "no such route" };
      }
    } catch (error) {
      const err = error as { status?: number; statusCode?: number; expose?: boolean; message?: string };
      // The request's deadline passed (withTimeout): the hub is busy, not broken.
      const timedOut = isSimhiveError(error, "SIMHIVE_ERR_TIMEOUT");
      const status = timedOut ? 503 : (err.status ?? err.statusCode ?? 500);
      const safeStatus = status >= 400 && status < 600 ? status : 500;
      ctx.status = safeStatus;
      ctx.body = {
        status: "ERROR",
        error: timedOut ? "TIMEOUT" : (ERROR_CODES[safeStatus] ?? "ERROR"),
        ...(safeStatus < 500 && err.expose !== false && err.message ? { message: err.message } : {}),
      };
      if (safeStatus >= 500) deps.log.error({ err: error, requestId }, "request failed");
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.http.requests.inc({ method: ctx.method, status: String(ctx.status) });
      deps.metrics.http.duration.observe({ method: ctx.method }, seconds);
      deps.log.info(
        { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(seconds * 1000 * 10) / 10, ip: ctx.ip, length: ctx.response.length },
        "http",
      );
    }
  });

  app.use(compress({ threshold: 0, br: false }));
  app.use(
    bodyParser({
      enableTypes: ["json", "form", "text"],
      jsonLimit: deps.bodyLimitBytes,
      formLimit: deps.bodyLimitBytes,
      textLimit: deps.bodyLimitBytes,
      encoding: "utf-8",
      onError: (error: Error & { status?: number }, ctx) => {
        const status = error.status ?? 400;
        if (status === 413 || status === 415) ctx.throw(status, status === 413 ? `request body larger than ${deps.bodyLimitBytes} bytes` : "unsupported content encoding");
        deferMalformedBody(ctx);
      },
    }),
  );

  app.use(async (ctx, next) => {
    if (ctx.method === "GET" || ctx.method === "HEAD") {
      if (ctx.path === "/healthz") {
        ctx.body = { status: "ok" };
        return;
      }
      if (ctx.path === "/readyz") {
        const readiness = deps.readiness();
        ctx.status = readiness.ready ? 200 : 503;
        ctx.body = { status: readiness.ready ? "ready" : "not-ready", ...readiness.checks };
        return;
      }
      if (ctx.path === "/metrics") {
        ctx.type = deps.metrics.registry.contentType;
        ctx.body = await deps.metrics.registry.metrics();
        return;
      }
    }
    await next();
  });

  const middlewareOf = new WeakMap<Router, ReturnType<Router["routes"]>>();
  const routesOf = (router: Router) => {
    let middleware = middlewareOf.get(router);
    if (!middleware) {
      middleware = router.routes();
      middlewareOf.set(router, middleware);
    }
    return middleware;
  };
  app.use(async (ctx, next) => {
    const routers = deps.routers();
    let index = 0;
    const dispatch = async (): Promise<void> => {
      const router = routers[index++];
      if (!router) return next();
      await routesOf(router)(ctx as never, dispatch);
    };
    await dispatch();
  });

  return app;
}

/**
 * A body that does not parse is not answered at once: a route may first check
 * who is asking (onlinesim answers BAD_KEY before anything else) by looking
 * at `ctx.state.bodyError`. Reading `ctx.request.body` throws the 400
 * "malformed request body" the error middleware answers with, so a route
 * that does not look gets the same answer as before.
 */
function deferMalformedBody(ctx: Koa.Context): void {
  ctx.state.bodyError = "malformed request body";
  Object.defineProperty(ctx.request, "body", {
    configurable: true,
    enumerable: true,
    get() {
      throw Object.assign(new Error("malformed request body"), { status: 400, expose: true });
    },
    set(value: unknown) {
      Object.defineProperty(ctx.request, "body", { configurable: true, enumerable: true, writable: true, value });
    },
  });
}

