import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../../core/config/load.ts";
import { staticResolver } from "../../../core/config/plugins.ts";
import { keyed, loadYaml } from "./helpers.ts";

const resolvePlugin = staticResolver([keyed]);
const problems = async (yaml: string, env: NodeJS.ProcessEnv) => (await loadYaml(yaml, { env, resolvePlugin })).problems;

describe("environment overrides", () => {
  it("takes SIMHIVE_<PATH> overrides, typed, for core and plugin keys", async () => {
    const loaded = await loadConfig({ plugins: { keyed: { enabled: true, apiKey: "from-file" } } }, "x.yaml", {
      env: { SIMHIVE_HTTP_PORT: "9090", SIMHIVE_PLUGINS_KEYED_APIKEY: "from-env", SIMHIVE_HUB_RETENTION_DAYS: "7", SIMHIVE_CONFIG: "/ignored" },
      resolvePlugin,
    });
    assert.equal(loaded.config.http.port, 9090);
    assert.equal(loaded.config.hub.retentionDays, 7);
    assert.equal(loaded.config.plugins.keyed?.apiKey, "from-env");
  });

  it("keeps a string key's value as written (no YAML: '#' is no comment, digits stay digits); parses numbers, booleans and lists", async () => {
    const loaded = await loadConfig({ plugins: { keyed: { enabled: true, apiKey: "from-file" } } }, "x.yaml", {
      env: {
        SIMHIVE_PLUGINS_KEYED_APIKEY: "s3cr3t #x",
        SIMHIVE_PLUGINS_KEYED_RETRIES: "5",
        SIMHIVE_HTTP_HOST: "007",
        SIMHIVE_HTTP_TRUST_PROXY: "true",
        SIMHIVE_MODEMS_PORTS: "[/dev/ttyUSB0, '/dev/serial/by-path/*']",
        SIMHIVE_LOG_LEVEL: "warn",
      },
      resolvePlugin,
    });
    assert.equal(loaded.config.plugins.keyed?.apiKey, "s3cr3t #x");
    assert.equal(loaded.config.plugins.keyed?.retries, 5);
    assert.equal(loaded.config.http.host, "007");
    assert.equal(loaded.config.http.trustProxy, true);
    assert.deepEqual(loaded.config.modems.ports, ["/dev/ttyUSB0", "/dev/serial/by-path/*"]);
    assert.equal(loaded.config.log.level, "warn");
  });

  it("checks a string value whole: SIMHIVE_HUB_ID='pi #01' is refused, not cut to 'pi'", async () => {
    assert.deepEqual(await problems("hub: { id: a }\n", { SIMHIVE_HUB_ID: "pi #01" }), [
      'environment SIMHIVE_HUB_ID: hub.id: must match pattern "^[A-Za-z0-9_.-]{1,64}$"',
    ]);
  });

  it("names the variable when an override is invalid, and ignores empty ones", async () => {
    assert.deepEqual(await problems("http: { port: 8080 }\n", { SIMHIVE_HTTP_PORT: "many", SIMHIVE_HUB_ID: "" }), [
      "environment SIMHIVE_HTTP_PORT: http.port: must be integer",
    ]);
  });

  it("names the variable when it enabled a plugin whose section then lacks a key", async () => {
    assert.deepEqual(await problems("hub: { id: a }\n", { SIMHIVE_PLUGINS_KEYED_ENABLED: "true" }), [
      "environment SIMHIVE_PLUGINS_KEYED_ENABLED: plugins.keyed.apiKey: is required",
    ]);
    assert.deepEqual(await problems("plugins:\n  keyed:\n    enabled: false\n", { SIMHIVE_PLUGINS_KEYED_ENABLED: "true" }), [
      "config.yaml:2, environment SIMHIVE_PLUGINS_KEYED_ENABLED: plugins.keyed.apiKey: is required",
    ]);
  });

  it("still blames the file for a problem on a line of its own beside an override", async () => {
    assert.deepEqual(await problems("http:\n  hots: x\n", { SIMHIVE_HTTP_PORT: "9000" }), ["config.yaml:2: http.hots: unknown key"]);
  });

  it("refuses a variable inside a config section that names no key", async () => {
    for (const name of ["SIMHIVE_HTTP_PROT", "SIMHIVE_PLUGINS_KEYD_ENABLED", "SIMHIVE_DEBUG_LOG_SMS", "SIMHIVE_PLUGINS_KEYED_API"]) {
      assert.deepEqual(await problems("plugins: { keyed: { enabled: true, apiKey: k } }\n", { [name]: "1" }), [`environment: ${name}: this environment variable names no config key`], name);
    }
    // The keys of a plugin that stays disabled are not read, so their variables are not checked either.
    assert.deepEqual(await problems("plugins: { keyed: { enabled: false } }\n", { SIMHIVE_PLUGINS_KEYED_API: "1" }), []);
  });

  it("leaves alone SIMHIVE_ variables outside the config's sections (the launcher's, the tests', CI's)", async () => {
    const env = { SIMHIVE_NODE: "/usr/bin/node", SIMHIVE_BIN: "/usr/bin/simhive", SIMHIVE_TEST_LOG: "1", SIMHIVE_CI_IMAGE: "1", SIMHIVE_CONFIG: "/etc/x.yaml" };
    assert.deepEqual(await problems("hub: { id: a }\n", env), []);
  });
});
