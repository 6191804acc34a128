import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Router from "@koa/router";
import { listActivations, listSms } from "../activations/report.ts";
import { bearerToken, sameSecret } from "../secrets.ts";
import type { Store } from "../store/store.ts";
import type { ModemsView } from "../types.ts";

/** The token file in the data directory: readable by the hub's user only. */
export function adminTokenPath(dataDir: string): string {
  return join(dataDir, "admin.token");
}

/** A fresh token for each start, written 0600 before the server listens. */
export async function writeAdminToken(dataDir: string): Promise<string> {
  const token = randomBytes(24).toString("base64url");
  await writeFile(adminTokenPath(dataDir), `${token}\n`, { mode: 0o600 });
  return token;
}

export async function readAdminToken(dataDir: string): Promise<string> {
  return (await readFile(adminTokenPath(dataDir), "utf8")).trim();
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * `/admin/*` for the operator's CLI (`simhive modems`, `activations`, `sms`)
 * while the hub holds the store's lock. Only from a loopback socket, never
 * through a proxy (no X-Forwarded-For), and only with the token the hub wrote
 * into its data directory at start.
 */
export function createAdminRouter(deps: { token: string; modems: ModemsView; store: Store }): Router {
  const router = new Router({ prefix: "/admin" });
  router.use(async (ctx, next) => {
    const remote = ctx.req.socket.remoteAddress ?? "";
    if (!LOOPBACK.test(remote) || ctx.get("x-forwarded-for") || !sameSecret(bearerToken(ctx.get("authorization")), deps.token)) {
      ctx.throw(403, "admin endpoints answer local, authenticated requests only");
    }
    await next();
  });
  const limit = (value: unknown, fallback: number) => Math.min(Math.max(Number(value) || fallback, 1), 10_000);
  router.get("/modems", (ctx) => {
    ctx.body = deps.modems.list();
  });
  router.get("/activations", async (ctx) => {
    ctx.type = "text/plain; charset=utf-8";
    ctx.body = await listActivations(deps.store, { limit: limit(ctx.query.limit, 50) });
  });
  router.get("/sms", async (ctx) => {
    ctx.type = "text/plain; charset=utf-8";
    ctx.body = await listSms(deps.store, { limit: limit(ctx.query.limit, 50), showText: ctx.query.showText === "1" });
  });
  return router;
}
