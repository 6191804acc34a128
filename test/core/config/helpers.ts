import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type LoadedConfig, loadConfigFile } from "../../../core/config/load.ts";
import type { PluginResolver } from "../../../core/config/plugins.ts";
import type { PluginDefinition } from "../../../core/plugins.ts";
import { isSimhiveError, type SimhiveError } from "../../../core/errors.ts";
import { makeTempDir } from "../../helpers/hub.ts";

const run = promisify(execFile);
export const ROOT = new URL("../../../", import.meta.url).pathname;
export const TLS_FIXTURES = join(ROOT, "test/fixtures/tls");

export interface LoadOutcome {
  /** The problem lines of the config error; [] when the config loaded. */
  problems: string[];
  loaded?: LoadedConfig;
  /** The folder the config file is in. */
  dir: string;
}

/** Writes `yaml` to <temp>/config.yaml (`yaml` may use, and put files in, the folder) and loads it with `env` alone as the environment. */
export async function loadYaml(
  yaml: string | ((dir: string) => string | Promise<string>),
  options: { env?: NodeJS.ProcessEnv; resolvePlugin?: PluginResolver } = {},
): Promise<LoadOutcome> {
  const dir = await makeTempDir();
  const file = join(dir, "config.yaml");
  await writeFile(file, typeof yaml === "function" ? await yaml(dir) : yaml);
  try {
    return { problems: [], loaded: await loadConfigFile(file, { env: options.env ?? {}, resolvePlugin: options.resolvePlugin }), dir };
  } catch (error) {
    assert.ok(isSimhiveError(error, "SIMHIVE_ERR_CONFIG"), `expected a config error, got ${String(error)}`);
    return { problems: [...(error as SimhiveError).details], dir };
  }
}

/** Plugin folders `<dir>/<name>/index.ts` with the given sources, for `hub.pluginDirs`. */
export async function pluginDir(sources: Record<string, string>): Promise<string> {
  const dir = await makeTempDir("simhive-plugins-");
  for (const [name, source] of Object.entries(sources)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "index.ts"), source);
  }
  return dir;
}

/** `simhive check --config FILE` in a child process; the environment's SIMHIVE_ variables are only those in `env`. */
export async function check(file: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SIMHIVE_")));
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "check", "--config", file], {
      cwd: ROOT,
      env: { ...base, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A test plugin with a required string key, an integer with a default and a check ajv cannot express. */
export const keyed: PluginDefinition = {
  name: "keyed",
  configSchema: {
    type: "object",
    required: ["apiKey"],
    properties: { apiKey: { type: "string" }, retries: { type: "integer", default: 3 }, pattern: { type: "string" } },
  },
  validateConfig: (section: { pattern?: string }) => {
    if (section.pattern === undefined) return [];
    try {
      new RegExp(section.pattern);
      return [];
    } catch {
      return ["plugins.keyed.pattern: not a valid regular expression"];
    }
  },
  start() {},
};
