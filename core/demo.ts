import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadConfig } from "./config/load.ts";
import { Hub } from "./hub.ts";
import { createLogger } from "./log.ts";
import type { ModemLayerImpl } from "./modems/index.ts";

export interface DemoOptions {
  modems: number;
  port: number;
  /** Stop after one walk through the flow instead of running until Ctrl-C. */
  exit: boolean;
  out?: NodeJS.WritableStream;
}

const API_KEY = "demo-key";

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
}

/**
 * `simhive demo`: the whole flow on emulated modems, for a newcomer. A
 * partner stub stands in for Onlinesim; the demo asks GET_SERVICES, reserves a
 * number with GET_NUMBER, has an emulated modem receive an SMS, shows the
 * PUSH_SMS the stub receives, closes the activation and asks GET_SERVICES
 * again. The demo's SMS carry invented codes, so they are printed.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  const pushes: Record<string, unknown>[] = [];
  let pushed: (() => void) | undefined;
  const partner = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    pushes.push(body);
    say(`  partner stub <- ${req.method} ${req.url} ${JSON.stringify({ ...body, key: "[hidden]" })}`);
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ status: "SUCCESS" }));
    pushed?.();
  });
  partner.listen(0, "127.0.0.1");
  await once(partner, "listening");
  const partnerPort = (partner.address() as AddressInfo).port;
  const dataDir = await mkdtemp(join(tmpdir(), "simhive-demo-"));
  const raw = {
    hub: { id: "demo", dataDir },
    http: { host: "127.0.0.1", port: options.port },
    log: { level: "warn" },
    modems: { ports: [], emulator: { count: options.modems } },
    plugins: {
      onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: `http://127.0.0.1:${partnerPort}/v1/PUSH_SMS`, services: ["vk", "tg", "wa", "ot"], retrySeconds: 2 },
      "number-exceptions": { enabled: true, masks: [] },
      "sms-filter": { enabled: true, mode: "on" },
    },
  };
  const loaded = await loadConfig(raw, join(dataDir, "demo.yaml"), { env: {} });
  const hub = await Hub.start({ loaded, log: createLogger({ level: "warn" }) });
  const url = `http://127.0.0.1:${hub.port}/onlinesim`;
  const call = async (body: Record<string, unknown>) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify({ ...body, key: API_KEY }) });
    const answer = (await res.json()) as Record<string, unknown>;
    say(`  hub -> ${JSON.stringify(answer)}`);
    return answer;
  };
  try {
    say(`simhive demo: hub on ${options.modems} emulated modems at http://127.0.0.1:${hub.port}, partner stub at :${partnerPort}\n`);
    say("1. the marketplace asks how many numbers there are (GET_SERVICES)");
    await call({ action: "GET_SERVICES" });
    say("\n2. it reserves a number for VK (GET_NUMBER)");
    const reserved = await call({ action: "GET_NUMBER", country: "russia", operator: "any", service: "vk", sum: 10 });
    if (reserved.status !== "SUCCESS") throw new Error("no number was reserved");
    const msisdn = String(reserved.number);
    const modem = [...(hub.modems as ModemLayerImpl).emulated.values()].find((m) => m.options.msisdn === msisdn);
    if (!modem) throw new Error(`no emulated modem has number ${msisdn}`);
    say(`\n3. an SMS reaches the SIM of +${msisdn}: stored, persisted, deleted from the SIM, routed, filtered, pushed`);
    const arrived = new Promise<void>((resolve) => {
      pushed = resolve;
    });
    modem.inject({ sender: "VK", text: "VK: 428913 — код подтверждения. Никому не сообщайте." });
    await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error("no PUSH_SMS within 20 s")), 20_000).unref())]);
    say("\n4. the marketplace closes the activation as sold (FINISH_ACTIVATION, status 3)");
    await call({ action: "FINISH_ACTIVATION", activationId: reserved.activationId, status: 3 });
    say("\n5. the number is spent for VK and still offered for the others (GET_SERVICES)");
    await call({ action: "GET_SERVICES" });
    if (options.exit) {
      say("\ndemo done");
      return 0;
    }
    say(`\nThe hub keeps running: try the requests above with curl against ${url} (key ${API_KEY}); Ctrl-C stops it.`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    return 0;
  } finally {
    await hub.stop();
    partner.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
