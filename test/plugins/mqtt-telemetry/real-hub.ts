/**
 * mqtt-telemetry on a real hub (test/helpers/hub.ts): emulated modems driven
 * by serialport-gsm, LevelDB in a temp dir, the onlinesim plugin behind the
 * hub's HTTP server pushing to a partner stub, and the plugin publishing to
 * the broker under test.
 */
import type { ModemLayerImpl } from "../../../core/modems/index.ts";
import type { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";
import { API_KEY, post } from "../onlinesim/rig.ts";
import { HANG_GUARD_MS, uniqueName } from "./helpers.ts";

export { API_KEY, post };

export interface RealHubOptions {
  brokerUrl: string;
  pushUrl: string;
  modems: number;
  /** Extra mqtt-telemetry settings (url and baseTopic are set). */
  telemetry?: Record<string, unknown>;
  /** Extra onlinesim settings. */
  onlinesim?: Record<string, unknown>;
  /** Given to start the same hub again (a restart); fresh ones by default. */
  hubId?: string;
  baseTopic?: string;
  dataDir?: string;
}

export interface RealHub {
  test: TestHub;
  hubId: string;
  baseTopic: string;
  /** `<baseTopic>/<hubId>` */
  root: string;
}

export async function startRealHub(options: RealHubOptions): Promise<RealHub> {
  const hubId = options.hubId ?? uniqueName("hub");
  const baseTopic = options.baseTopic ?? uniqueName("simhive-test");
  const test = await startTestHub({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    config: {
      hub: { id: hubId },
      modems: { emulator: { count: options.modems } },
      plugins: {
        onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: options.pushUrl, services: ["vk", "tg", "ot"], ...options.onlinesim },
        "mqtt-telemetry": { enabled: true, url: options.brokerUrl, baseTopic, ...options.telemetry },
      },
    },
  });
  return { test, hubId, baseTopic, root: `${baseTopic}/${hubId}` };
}

export async function waitUntil(what: string, condition: () => boolean, timeoutMs = HANG_GUARD_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every emulated modem of the hub, in path order (deterministic identities). */
export function emulatedModems(test: TestHub): EmulatedModem[] {
  const layer = test.hub.modems as ModemLayerImpl;
  return [...layer.emulated.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, modem]) => modem);
}

export function emulatedModemOf(test: TestHub, msisdn: string): EmulatedModem {
  const modem = emulatedModems(test).find((m) => m.options.msisdn === msisdn);
  if (!modem) throw new Error(`no emulated modem with ${msisdn}`);
  return modem;
}
