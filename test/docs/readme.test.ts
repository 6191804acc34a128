import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { builtinPlugins, renderConfigReference, withReference } from "../../core/config/reference.ts";

const ROOT = new URL("../../", import.meta.url);

describe("README", () => {
  it("has the config reference in step with the schemas (npm run docs regenerates it)", async () => {
    const readme = await readFile(new URL("README.md", ROOT), "utf8");
    const expected = withReference(readme, renderConfigReference(await builtinPlugins()));
    assert.equal(readme, expected, "README.md's config reference is stale: run `npm run docs`");
  });

  it("documents every config key and every built-in plugin", async () => {
    const readme = await readFile(new URL("README.md", ROOT), "utf8");
    for (const key of ["hub.dataDir", "http.port", "modems.ports", "modems.sweepSeconds", "activations.staleActivationHours"]) {
      assert.ok(readme.includes(`\`${key}\``), `${key} missing from the reference`);
    }
    for (const plugin of await builtinPlugins()) assert.ok(readme.includes(`#### plugins.${plugin.name}`), plugin.name);
  });

  it("names every section of the config as the prefixes environment overrides take", async () => {
    const readme = await readFile(new URL("README.md", ROOT), "utf8");
    const { coreSchema } = await import("../../core/config/schema.ts");
    const { coreSections } = await import("../../core/config/sections.ts");
    const sections = Object.keys(coreSchema(coreSections).properties as object).map((key) => `\`${key.toUpperCase()}\``);
    const listed = /names a section of the config \(([^)]*)\)/.exec(readme.replace(/\s+/g, " "))?.[1];
    assert.equal(listed, sections.join(", "));
  });

  it("quickstart: its two commands are scripts of package.json and the dev config passes `simhive check`", async () => {
    const readme = await readFile(new URL("README.md", ROOT), "utf8");
    const pkg = JSON.parse(await readFile(new URL("package.json", ROOT), "utf8")) as { scripts: Record<string, string> };
    assert.match(readme, /^npm ci && npm start /m);
    assert.match(readme, /^npm ci && npm test /m);
    assert.match(pkg.scripts.start ?? "", /core\/main\.ts start --config examples\/dev\.yaml/);
    const { loadConfigFile } = await import("../../core/config/load.ts");
    const loaded = await loadConfigFile(new URL("examples/dev.yaml", ROOT).pathname, { env: {} });
    assert.ok(loaded.config.modems.emulator?.count > 0, "the dev config runs on emulated modems");
  });
});
