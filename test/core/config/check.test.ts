import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTempDir } from "../../helpers/hub.ts";
import { check, pluginDir, ROOT } from "./helpers.ts";

const MINIMAL = join(ROOT, "examples/minimal.yaml");

async function configFile(yaml: string): Promise<string> {
  const file = join(await makeTempDir(), "broken.yaml");
  await writeFile(file, yaml);
  return file;
}

describe("simhive check", () => {
  it("exits 0 on a valid config", async () => {
    const result = await check(MINIMAL);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /config OK/);
  });

  it("exits 0 with the project's own SIMHIVE_ variables in the environment (launcher, tests, CI)", async () => {
    const result = await check(MINIMAL, { SIMHIVE_NODE: process.execPath, SIMHIVE_BIN: "/usr/bin/simhive", SIMHIVE_TEST_LOG: "1", SIMHIVE_CI_IMAGE: "1" });
    assert.equal(result.code, 0, result.stderr);
  });

  it("exits 2 and lists every problem with its path", async () => {
    const file = await configFile("hub:\n  dataDri: /x\nhttp:\n  port: -1\nplugins:\n  nope: { enabled: true }\n");
    const result = await check(file);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      [`${file}: 3 problems in the config`, "  broken.yaml:2: hub.dataDri: unknown key", "  broken.yaml:4: http.port: must be >= 0", "  broken.yaml:6: plugins.nope: no such plugin", ""].join("\n"),
    );
  });

  it("exits 2 on bad YAML with the line, column and the parser's message", async () => {
    const file = await configFile("hub:\n  id: [pi\n");
    const result = await check(file);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `${file}: not valid YAML\n  line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]\n`);
  });

  it("exits 2 when an enabled plugin needs one that is not enabled, as start would refuse it", async () => {
    const file = await configFile(`hub: { pluginDirs: [${JSON.stringify(join(ROOT, "test/fixtures/plugins"))}] }\nplugins:\n  needs-onlinesim: { enabled: true }\n`);
    const result = await check(file);
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, /^ {2}broken\.yaml:3: plugins\.needs-onlinesim: needs plugin "onlinesim", which is not enabled$/m);
  });

  it("exits 2, naming the plugin, when its configSchema is invalid", async () => {
    const dir = await pluginDir({ "bad-schema": 'export default { name: "bad-schema", configSchema: { type: "object", properties: { n: { type: "nonsense" } } }, start() {} };\n' });
    const file = await configFile(`hub: { pluginDirs: [${JSON.stringify(dir)}] }\nplugins:\n  bad-schema: { enabled: true }\n`);
    const result = await check(file);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^ {2}broken\.yaml:3: plugins\.bad-schema: invalid configSchema: schema is invalid: /m);
  });

  it("exits 2 when a TLS file is missing, naming the key and the file", async () => {
    const file = await configFile("http:\n  tls: { cert: /nope.pem, key: /nope.key }\n");
    const result = await check(file);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^ {2}broken\.yaml:2: http\.tls\.cert: cannot read \/nope\.pem: ENOENT/m);
    assert.match(result.stderr, /^ {2}broken\.yaml:2: http\.tls\.key: cannot read \/nope\.key: ENOENT/m);
  });

  it("exits 2 with a clear message when the file is missing", async () => {
    const result = await check("/nonexistent/simhive.yaml");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no config file at \/nonexistent\/simhive\.yaml/);
  });
});
