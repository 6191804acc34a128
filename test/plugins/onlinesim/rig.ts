import { gzipSync, gunzipSync } from "node:zlib";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { createHttpApp } from "../../../core/http/app.ts";
import { HttpServer } from "../../../core/http/server.ts";
import { silentLogger, type Logger } from "../../../core/log.ts";
import { createMetrics, type HttpMetrics } from "../../../core/metrics.ts";
import { PluginHost } from "../../../core/plugins.ts";
import type { ActivationsConfig } from "../../../core/activations/types.ts";
import type { NumberInfo } from "../../../core/types.ts";
import onlinesim from "../../../plugins/onlinesim/index.ts";
import { makeRig, type Rig } from "../../core/activations/fixtures.ts";

export const API_KEY = "partner-key-0123456789";

export interface PluginRig extends Rig {
  url: string;
  host: PluginHost;
  /** Stops plugin, HTTP, activations and store, then opens them all again on the same directory. */
  restartAll(): Promise<void>;
  closeAll(): Promise<void>;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The plugin's section as the hub's loader would hand it over: validated against the schema, defaults filled in. */
export function validatedConfig(section: Record<string, unknown>): Record<string, unknown> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
  addFormats(ajv);
  const copy = structuredClone(section);
  const validate = ajv.compile(onlinesim.configSchema);
  if (!validate(copy)) throw new Error(`invalid onlinesim config: ${ajv.errorsText(validate.errors)}`);
  return copy;
}

/**
 * The onlinesim plugin in a PluginHost behind the hub's own Koa app (error
 * middleware, gzip both ways, body parser) on a real socket, over a real
 * LevelDB store and activations with a plain list of numbers.
 */
export async function startPluginRig(
  numbers: NumberInfo[],
  section: Record<string, unknown>,
  activationsConfig: Partial<ActivationsConfig> = {},
  log: Logger = silentLogger(),
): Promise<PluginRig> {
  let http: { registry: import("prom-client").Registry; http: HttpMetrics } = createMetrics();
  const base = await makeRig(
    numbers,
    activationsConfig,
    undefined,
    () => {
      http = createMetrics();
      return http.registry;
    },
    log,
  );
  const rig = base as PluginRig;
  let server: HttpServer;
  const config = validatedConfig({ apiKey: API_KEY, pushUrl: "http://127.0.0.1:9/push", ...section });
  const open = async (): Promise<void> => {
    rig.host = new PluginHost({
      log,
      bus: rig.bus,
      store: rig.store,
      hooks: rig.hooks,
      hub: { id: "test-hub", version: "9.9.9-test", dataDir: rig.dir },
      modems: { list: () => [], get: () => undefined, command: async () => {} },
      numbers: rig.numbers,
      activations: rig.activations,
      metrics: rig.metrics,
    });
    await rig.host.startAll([onlinesim], { onlinesim: config });
    if (rig.host.status("onlinesim") !== "running") throw new Error(`onlinesim did not start: ${JSON.stringify(rig.host.list())}`);
    const app = createHttpApp({
      log: silentLogger(),
      metrics: http,
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 15_000,
      trustProxy: false,
      readiness: () => ({ ready: true, checks: {} }),
      routers: () => rig.host.routers(),
    });
    server = await HttpServer.listen(app, { host: "127.0.0.1", port: 0, requestTimeoutMs: 15_000 });
    rig.url = `http://127.0.0.1:${server.port}`;
  };
  await open();
  rig.restartAll = async () => {
    await server.close(100);
    await rig.host.stopAll();
    await rig.restart();
    await open();
  };
  rig.closeAll = async () => {
    await server.close(100);
    await rig.host.stopAll();
    await rig.close();
  };
  return rig;
}

export interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  raw: Buffer;
}

/** POST JSON (optionally gzip-encoded) to the plugin. */
export async function post(url: string, body: unknown, options: { gzip?: boolean; headers?: Record<string, string>; path?: string } = {}): Promise<Answer> {
  const json = JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "user-agent": "onlinesim-test", ...options.headers };
  let payload: string | Uint8Array = json;
  if (options.gzip) {
    payload = gzipSync(json);
    headers["content-encoding"] = "gzip";
  }
  const response = await fetch(`${url}${options.path ?? "/onlinesim"}`, { method: "POST", headers, body: payload });
  const raw = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, raw, json: JSON.parse(raw.toString("utf8")) as Record<string, unknown> };
}

export async function get(url: string, query: Record<string, string>, options: { headers?: Record<string, string>; path?: string } = {}): Promise<Answer> {
  const response = await fetch(`${url}${options.path ?? "/onlinesim"}?${new URLSearchParams(query)}`, { headers: options.headers ?? {} });
  const raw = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, raw, json: JSON.parse(raw.toString("utf8")) as Record<string, unknown> };
}

/** A request over node:http with exactly the headers given (fetch adds Content-Type and Accept-Encoding of its own); gzip answers are decoded. */
export async function sendRaw(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; encoding: string | undefined; contentType: string | undefined; body: string }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const target = new URL(`${url}${options.path ?? "/onlinesim"}`);
    const req = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: options.method ?? "POST", headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const data = Buffer.concat(chunks);
        const encoding = res.headers["content-encoding"];
        resolve({ status: res.statusCode ?? 0, encoding, contentType: res.headers["content-type"], body: (encoding === "gzip" ? gunzipSync(data) : data).toString("utf8") });
      });
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A raw JSON POST that leaves Accept-Encoding to the caller (fetch always asks for gzip and decodes). */
export function rawPost(url: string, body: unknown, acceptEncoding: string): ReturnType<typeof sendRaw> {
  return sendRaw(url, { headers: { "content-type": "application/json", "accept-encoding": acceptEncoding }, body: JSON.stringify(body) });
}
