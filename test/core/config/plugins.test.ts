import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { staticResolver } from "../../../core/config/plugins.ts";
import type { PluginDefinition } from "../../../core/plugins.ts";
import { keyed, loadYaml, pluginDir } from "./helpers.ts";

const broken = {
  "syntax-error": 'export default { name: "syntax-error", configSchema: {}, start() { return ( } };\n',
  "throws-at-import": 'throw new Error("boom at import");\n',
  "wrong-name": 'export default { name: "other", configSchema: {}, start() {} };\n',
  "no-default": 'export const plugin = { name: "no-default", configSchema: {}, start() {} };\n',
};

const withPlugins = (dir: string, enabled: boolean) =>
  [`hub: { pluginDirs: [${JSON.stringify(dir)}] }`, "plugins:", ...Object.keys(broken).map((name) => `  ${name}: { enabled: ${enabled} }`)].join("\n");

const plugin = (name: string, extra: Partial<PluginDefinition> = {}): PluginDefinition => ({ name, configSchema: {}, start() {}, ...extra });

describe("config: plugins", () => {
  it("reports a plugin that exists but cannot be loaded with its file and the reason, not as 'no such plugin'", async () => {
    const dir = await pluginDir(broken);
    const found = (await loadYaml(withPlugins(dir, true))).problems;
    const file = (name: string) => join(dir, name, "index.ts");
    assert.equal(found.length, 4, found.join("\n"));
    assert.match(found[0] as string, new RegExp(`^config\\.yaml:3: plugins\\.syntax-error: cannot load ${file("syntax-error")}: Transform failed with 1 error: ${file("syntax-error")}:1:\\d+: ERROR: Unexpected "}"$`));
    assert.deepEqual(found.slice(1), [
      `config.yaml:4: plugins.throws-at-import: cannot load ${file("throws-at-import")}: boom at import`,
      `config.yaml:5: plugins.wrong-name: cannot load ${file("wrong-name")}: it does not default-export a plugin named "wrong-name" (an object with that name and start())`,
      `config.yaml:6: plugins.no-default: cannot load ${file("no-default")}: it does not default-export a plugin named "no-default" (an object with that name and start())`,
    ]);
  });

  it("does not import a disabled plugin: a broken one that is disabled blocks nothing", async () => {
    const dir = await pluginDir(broken);
    const { problems, loaded } = await loadYaml(withPlugins(dir, false));
    assert.deepEqual(problems, []);
    assert.deepEqual(loaded?.plugins, []);
  });

  it("still catches a misspelt disabled plugin", async () => {
    assert.deepEqual((await loadYaml("plugins:\n  onlinsim: { enabled: false }\n")).problems, ["config.yaml:2: plugins.onlinsim: no such plugin (it is disabled, but check the spelling)"]);
  });

  it("reports a dependency that is not enabled, and a cycle, with the other problems", async () => {
    const resolvePlugin = staticResolver([
      keyed,
      plugin("needy", { dependencies: ["keyed"] }),
      plugin("loop-a", { dependencies: ["loop-b"] }),
      plugin("loop-b", { dependencies: ["loop-a"] }),
    ]);
    const yaml = ["http: { port: -1 }", "plugins:", "  keyed: { enabled: false }", "  needy: { enabled: true }", "  loop-a: { enabled: true }", "  loop-b: { enabled: true }"].join("\n");
    assert.deepEqual((await loadYaml(yaml, { resolvePlugin })).problems, [
      "config.yaml:1: http.port: must be >= 0",
      'config.yaml:4: plugins.needy: needs plugin "keyed", which is not enabled',
      "config.yaml:5: plugins.loop-a: dependency cycle: loop-a → loop-b → loop-a",
    ]);
  });

  it("lists the enabled plugins dependencies first", async () => {
    const resolvePlugin = staticResolver([plugin("c", { dependencies: ["a"] }), plugin("a", { dependencies: ["b"] }), plugin("b")]);
    const { loaded } = await loadYaml("plugins:\n  c: { enabled: true }\n  a: { enabled: true }\n  b: { enabled: true }\n", { resolvePlugin });
    assert.deepEqual(
      loaded?.plugins.map((p) => p.name),
      ["b", "a", "c"],
    );
  });

  it("reports a plugin whose configSchema is not a valid JSON Schema by name", async () => {
    const resolvePlugin = staticResolver([plugin("bad-schema", { configSchema: { type: "object", properties: { n: { type: "nonsense" } } } })]);
    const found = (await loadYaml("plugins:\n  bad-schema: { enabled: true }\n", { resolvePlugin })).problems;
    assert.equal(found.length, 1);
    assert.match(found[0] as string, /^config\.yaml:2: plugins\.bad-schema: invalid configSchema: schema is invalid: data\/properties\/n\/type must be/);
  });
});
