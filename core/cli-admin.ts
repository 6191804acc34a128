import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { listActivations, listSms } from "./activations/report.ts";
import type { HubConfig } from "./config/load.ts";
import { EventBus } from "./bus.ts";
import { isSimhiveError, SimhiveError } from "./errors.ts";
import { readAdminToken } from "./http/admin.ts";
import { silentLogger } from "./log.ts";
import { createModemLayer } from "./modems/index.ts";
import { Store } from "./store/store.ts";
import type { ModemInfo } from "./types.ts";

/** GET an /admin path of the running hub; undefined when no hub answers. */
async function adminGet(config: HubConfig, path: string): Promise<{ status: number; body: string } | undefined> {
  let token: string;
  try {
    token = await readAdminToken(config.hub.dataDir);
  } catch {
    return undefined;
  }
  const host = ["0.0.0.0", "::", ""].includes(config.http.host) ? "127.0.0.1" : config.http.host;
  const request = config.http.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: config.http.port, path, headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("the hub did not answer within 10 s")));
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNREFUSED" ? resolve(undefined) : reject(error)));
    req.end();
  });
}

function expectOk(answer: { status: number; body: string }): string {
  if (answer.status !== 200) {
    throw new SimhiveError("SIMHIVE_ERR_ADMIN", `the hub refused the request (HTTP ${answer.status}); run this as the hub's user (or root) on the hub's machine`);
  }
  return answer.body;
}

/**
 * A report from the running hub, or, when no hub is running, straight from
 * the store (which the hub would otherwise hold locked).
 */
export async function report(config: HubConfig, what: "activations" | "sms", options: { limit: number; showText: boolean }): Promise<string> {
  const path = `/admin/${what}?limit=${options.limit}${options.showText ? "&showText=1" : ""}`;
  const answer = await adminGet(config, path);
  if (answer) return expectOk(answer);
  const store = await Store.open(config.hub.dataDir, silentLogger());
  try {
    return what === "activations" ? await listActivations(store, { limit: options.limit }) : await listSms(store, { limit: options.limit, showText: options.showText });
  } finally {
    await store.close();
  }
}

/**
 * The running hub's modems; when no hub runs, the ports are probed here with
 * the hub's own modem layer (what it finds is kept in the store as the hub
 * would: SMS read from the SIMs are persisted before they are deleted, and
 * routed when the hub starts).
 */
export async function modems(config: HubConfig): Promise<{ modems: ModemInfo[]; probed: boolean }> {
  const answer = await adminGet(config, "/admin/modems");
  if (answer) return { modems: JSON.parse(expectOk(answer)) as ModemInfo[], probed: false };
  let store: Store;
  try {
    store = await Store.open(config.hub.dataDir, silentLogger());
  } catch (error) {
    if (isSimhiveError(error, "SIMHIVE_ERR_STORE_LOCKED")) {
      throw new SimhiveError("SIMHIVE_ERR_ADMIN", `a hub holds ${config.hub.dataDir} but does not answer on port ${config.http.port}; check journalctl -u simhive`);
    }
    throw error;
  }
  const log = silentLogger();
  // the hub waits at most 5 s for slow modems (they join later); a one-off table waits longer, or a modem still booting shows as initializing
  const layer = createModemLayer(config.modems, { log, bus: new EventBus(log), store }, { startWaitMs: 20_000 });
  try {
    await layer.start();
    return { modems: layer.list(), probed: true };
  } finally {
    await layer.stop();
    await store.close();
  }
}
