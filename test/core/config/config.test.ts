import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { findConfigPath, loadConfig, loadConfigFile } from "../../../core/config/load.ts";
import { isSimhiveError, type SimhiveError } from "../../../core/errors.ts";
import { staticResolver } from "../../../core/config/plugins.ts";
import type { PluginDefinition } from "../../../core/plugins.ts";
import { makeTempDir } from "../../helpers/hub.ts";

const run = promisify(execFile);
const ROOT = new URL("../../../", import.meta.url).pathname;

const keyed: PluginDefinition = {
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
const resolvePlugin = staticResolver([keyed]);

async function problems(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const dir = await makeTempDir();
  const file = join(dir, "config.yaml");
  await writeFile(file, yaml);
  try {
    await loadConfigFile(file, { env, resolvePlugin });
  } catch (error) {
    assert.ok(isSimhiveError(error, "SIMHIVE_ERR_CONFIG"), `expected a config error, got ${String(error)}`);
    return (error as SimhiveError).details as string[];
  }
  return [];
}

describe("config file", () => {
  it("reports every error at once, each with file, line and path", async () => {
    const found = await problems(
      ["hub:", "  idd: pi-01", "  retentionDays: soon", "http:", "  port: 70000", "plugins:", "  keyed: { enabled: true, apiKey: 42 }"].join("\n"),
    );
    assert.deepEqual(found.sort(), [
      "config.yaml:2: hub.idd: unknown key",
      "config.yaml:3: hub.retentionDays: must be number",
      "config.yaml:5: http.port: must be <= 65535",
      "config.yaml:7: plugins.keyed.apiKey: must be string",
    ]);
  });

  it("reports a missing required plugin key and an unknown key inside a plugin section", async () => {
    const found = await problems("plugins:\n  keyed:\n    enabled: true\n    apiKye: x\n");
    assert.deepEqual(found.sort(), ["config.yaml:2: plugins.keyed.apiKey: is required", "config.yaml:4: plugins.keyed.apiKye: unknown key"]);
  });

  it("reports an unknown plugin by name and a section without `enabled`", async () => {
    const found = await problems("plugins:\n  onlinsim: { enabled: true }\n  keyed: { apiKey: x }\n");
    assert.deepEqual(found.sort(), ["config.yaml:2: plugins.onlinsim: no such plugin", "config.yaml:3: plugins.keyed.enabled: is required"]);
  });

  it("runs a plugin's own checks on a section that passed its schema, with the path's line", async () => {
    const found = await problems("plugins:\n  keyed:\n    enabled: true\n    apiKey: k\n    pattern: \"([a-z\"\n");
    assert.deepEqual(found, ["config.yaml:5: plugins.keyed.pattern: not a valid regular expression"]);
  });

  it("reports bad YAML with line and column", async () => {
    const found = await problems("hub:\n  id: [pi\n");
    assert.equal(found.length, 1);
    assert.match(found[0] as string, /^line \d+, column \d+: /);
  });

  it("does not validate the section of a disabled plugin", async () => {
    assert.deepEqual(await problems("plugins:\n  keyed: { enabled: false, whatever: 1 }\n"), []);
  });

  it("applies defaults, including those of enabled plugins", async () => {
    const loaded = await loadConfig({ plugins: { keyed: { enabled: true, apiKey: "k" } } }, "x.yaml", { env: {}, resolvePlugin });
    assert.equal(loaded.config.http.port, 8080);
    assert.equal(loaded.config.hub.dataDir, "/var/lib/simhive");
    assert.equal(loaded.config.hub.retentionDays, 90);
    assert.deepEqual(loaded.config.modems.ports, ["/dev/serial/by-path/*"]);
    assert.equal(loaded.config.plugins.keyed?.retries, 3);
    assert.deepEqual(
      loaded.plugins.map((p) => p.name),
      ["keyed"],
    );
  });

  it("takes SIMHIVE_<PATH> environment overrides, typed, for core and plugin keys", async () => {
    const loaded = await loadConfig({ plugins: { keyed: { enabled: true, apiKey: "from-file" } } }, "x.yaml", {
      env: { SIMHIVE_HTTP_PORT: "9090", SIMHIVE_PLUGINS_KEYED_APIKEY: "from-env", SIMHIVE_HUB_RETENTION_DAYS: "7", SIMHIVE_CONFIG: "/ignored" },
      resolvePlugin,
    });
    assert.equal(loaded.config.http.port, 9090);
    assert.equal(loaded.config.hub.retentionDays, 7);
    assert.equal(loaded.config.plugins.keyed?.apiKey, "from-env");
  });

  it("names the variable when an override is invalid, and ignores empty ones", async () => {
    const found = await problems("http: { port: 8080 }\n", { SIMHIVE_HTTP_PORT: "many", SIMHIVE_HUB_ID: "" });
    assert.deepEqual(found, ["environment SIMHIVE_HTTP_PORT: http.port: must be integer"]);
  });

  it("refuses an environment variable that names no key", async () => {
    const found = await problems("hub: { id: a }\n", { SIMHIVE_HTTP_PROT: "1" });
    assert.deepEqual(found, ["environment: SIMHIVE_HTTP_PROT: this environment variable names no config key"]);
  });

  it("is found by --config, then SIMHIVE_CONFIG, then /etc/simhive/config.yaml", () => {
    assert.equal(findConfigPath("/a.yaml", { SIMHIVE_CONFIG: "/b.yaml" }), "/a.yaml");
    assert.equal(findConfigPath(undefined, { SIMHIVE_CONFIG: "/b.yaml" }), "/b.yaml");
    assert.equal(findConfigPath(undefined, {}), "/etc/simhive/config.yaml");
  });
});

describe("simhive check", () => {
  const check = async (file: string) => {
    try {
      const { stdout } = await run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "check", "--config", file], { cwd: ROOT, env: { ...process.env, SIMHIVE_HTTP_PORT: "" } });
      return { code: 0, out: stdout };
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, out: e.stderr };
    }
  };

  it("exits 0 on a valid config", async () => {
    const result = await check(join(ROOT, "examples/minimal.yaml"));
    assert.equal(result.code, 0, result.out);
    assert.match(result.out, /config OK/);
  });

  it("exits non-zero and lists every problem with its path", async () => {
    const dir = await makeTempDir();
    const file = join(dir, "broken.yaml");
    await writeFile(file, "hub:\n  dataDri: /x\nhttp:\n  port: -1\nplugins:\n  nope: { enabled: true }\n");
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith("SIMHIVE_")) delete env[key];
    const result = await (async () => {
      try {
        await run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "check", "--config", file], { cwd: ROOT, env });
        return { code: 0, out: "" };
      } catch (error) {
        const e = error as { code: number; stderr: string };
        return { code: e.code, out: e.stderr };
      }
    })();
    assert.equal(result.code, 2);
    assert.match(result.out, /broken\.yaml:2: hub\.dataDri: unknown key/);
    assert.match(result.out, /broken\.yaml:4: http\.port: must be >= 0/);
    assert.match(result.out, /broken\.yaml:6: plugins\.nope: no such plugin/);
    assert.doesNotMatch(result.out, /at .*\.ts:\d+/, "no stack trace");
  });

  it("exits non-zero with a clear message when the file is missing", async () => {
    const result = await check("/nonexistent/simhive.yaml");
    assert.equal(result.code, 2);
    assert.match(result.out, /no config file at \/nonexistent\/simhive\.yaml/);
  });
});
