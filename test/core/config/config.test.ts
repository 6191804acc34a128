import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findConfigPath, loadConfig } from "../../../core/config/load.ts";
import { staticResolver } from "../../../core/config/plugins.ts";
import { keyed, loadYaml } from "./helpers.ts";

const MAX_TIMER_MS = 2 ** 31 - 1;

const resolvePlugin = staticResolver([keyed]);

const problems = async (yaml: string, env: NodeJS.ProcessEnv = {}) => (await loadYaml(yaml, { env, resolvePlugin })).problems;

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

  it("reports bad YAML with line, column and the parser's message", async () => {
    assert.deepEqual(await problems("hub:\n  id: [pi\n"), ["line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]"]);
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

  it("keeps every core timer under setTimeout's limit (2^31-1 ms): the largest period passes, one more is refused", async () => {
    for (const [section, key, unitMs] of [
      ["hub", "pruneIntervalMinutes", 60_000],
      ["hub", "shutdownTimeoutSeconds", 1_000],
      ["http", "requestTimeoutSeconds", 1_000],
    ] as const) {
      const largest = Math.floor(MAX_TIMER_MS / unitMs);
      assert.deepEqual(await problems(`${section}:\n  ${key}: ${largest}\n`), [], `${section}.${key}: ${largest}`);
      assert.deepEqual(await problems(`${section}:\n  ${key}: ${largest + 1}\n`), [`config.yaml:2: ${section}.${key}: must be <= ${largest}`]);
    }
  });

  // Timer keys of the modems, activations and onlinesim sections: each has maximum: timerMaximum(1000) (core/timers.ts).
  it("keeps the modems', activations' and onlinesim's timers under setTimeout's limit", async () => {
    const timers = [
      "modems.sweepSeconds", "modems.multipartTimeoutSeconds", "modems.pingSeconds", "modems.rescanSeconds", "modems.commandTimeoutSeconds",
      "modems.maxBackoffSeconds", "modems.uhubctl.timeoutSeconds", "activations.staleCheckSeconds",
      "plugins.onlinesim.retrySeconds", "plugins.onlinesim.pushTimeoutSeconds",
    ];
    const unsafe: string[] = [];
    for (const path of timers) {
      const keys = path.split(".");
      const value: Record<string, unknown> = { [keys.at(-1) as string]: Math.floor(MAX_TIMER_MS / 1000) + 1 };
      const nested = keys.slice(0, -1).reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value);
      if (path.startsWith("plugins.onlinesim.")) Object.assign(nested.plugins as object, { onlinesim: { enabled: true, apiKey: "k", pushUrl: "http://127.0.0.1:9/", ...value } });
      const found = (await loadYaml(JSON.stringify(nested))).problems;
      if (!found.some((line) => line.includes(`${path}: must be <=`))) unsafe.push(path);
    }
    assert.deepEqual(unsafe, []);
  });

  it("is found by --config, then SIMHIVE_CONFIG, then /etc/simhive/config.yaml", () => {
    assert.equal(findConfigPath("/a.yaml", { SIMHIVE_CONFIG: "/b.yaml" }), "/a.yaml");
    assert.equal(findConfigPath(undefined, { SIMHIVE_CONFIG: "/b.yaml" }), "/b.yaml");
    assert.equal(findConfigPath(undefined, {}), "/etc/simhive/config.yaml");
  });
});
