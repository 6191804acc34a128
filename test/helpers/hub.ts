import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { loadConfigFile } from "../../core/config/load.ts";
import { Hub, type HubOptions } from "../../core/hub.ts";
import { createLogger, silentLogger, type Logger } from "../../core/log.ts";
import { pluginResolver, staticResolver } from "../../core/config/plugins.ts";
import type { PluginDefinition } from "../../core/plugins.ts";

/** Config sections as a test writes them (as in the YAML file). */
export type RawConfig = Record<string, any>;

export interface TestHub {
  hub: Hub;
  /** http://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  /** The config file the hub was started from (<dataDir>/test.yaml). */
  file: string;
  /** Writes `config` (as `TestHubOptions.config`) to the file and reloads it, as on SIGHUP. */
  reconfigure(config: RawConfig): ReturnType<Hub["reload"]>;
  /** Stops the hub; the data directory stays until `cleanup`. */
  stop(): Promise<void>;
  /** Starts a new hub on the same data directory and config (a restart). */
  restart(): Promise<TestHub>;
  /** Stops the hub and removes the data directory. */
  cleanup(): Promise<void>;
}

export interface TestHubOptions {
  /** Raw config sections (as in the YAML file); hub.dataDir and http are filled in. */
  config?: RawConfig;
  /** Plugin definitions that are not under plugins/ (test plugins), found before the built-in ones and hub.pluginDirs' (absolute paths). */
  plugins?: PluginDefinition[];
  dataDir?: string;
  log?: Logger;
  modemOptions?: HubOptions["modemOptions"];
}

export async function makeTempDir(prefix = "simhive-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A logger whose JSON lines a test can read (and search as raw text). */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[]; raw: () => string } {
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw += String(chunk);
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: "debug", destination }), lines, raw: () => raw };
}

/** A logger for tests: silent unless SIMHIVE_TEST_LOG=1. */
export function testLogger(): Logger {
  return process.env.SIMHIVE_TEST_LOG === "1" ? createLogger({ level: "debug", destination: process.stderr }) : silentLogger();
}

/** The file's sections: `config` with hub.dataDir, an http address on 127.0.0.1 and no modem ports filled in. */
function testConfig(config: RawConfig | undefined, dataDir: string): RawConfig {
  const raw = structuredClone(config ?? {});
  raw.hub = { id: "test-hub", ...raw.hub, dataDir };
  raw.http = { host: "127.0.0.1", port: 0, ...raw.http };
  raw.modems = { ports: [], ...raw.modems };
  return raw;
}

/** Starts a real hub from a config file: LevelDB in a temp dir, HTTP on 127.0.0.1 and a free port. */
export async function startTestHub(options: TestHubOptions = {}): Promise<TestHub> {
  const dataDir = options.dataDir ?? (await makeTempDir());
  const file = join(dataDir, "test.yaml");
  // JSON is YAML: the hub reads the file as it would any config, and again on reload.
  const write = (config: RawConfig | undefined) => writeFile(file, `${JSON.stringify(testConfig(config, dataDir), null, 2)}\n`);
  await write(options.config);
  // Test plugins first, then the built-in ones and those in the config's hub.pluginDirs.
  const resolvePlugin = staticResolver(options.plugins ?? [], pluginResolver((options.config?.hub?.pluginDirs ?? []) as string[]));
  const loaded = await loadConfigFile(file, { env: {}, resolvePlugin });
  const hub = await Hub.start({ loaded, log: options.log ?? testLogger(), resolvePlugin, modemOptions: options.modemOptions });
  const handle: TestHub = {
    hub,
    url: `http://127.0.0.1:${hub.port}`,
    dataDir,
    file,
    reconfigure: async (config) => {
      await write(config);
      return hub.reload();
    },
    stop: () => hub.stop(),
    restart: async () => {
      await hub.stop();
      return startTestHub({ ...options, dataDir });
    },
    cleanup: async () => {
      await hub.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
