import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTempDir } from "../helpers/hub.ts";
import { spawnHub, waitFor } from "../helpers/process.ts";


const config = (dataDir: string, masks: string[]) =>
  [
    `hub: { dataDir: ${dataDir} }`,
    "http: { host: 127.0.0.1, port: 0 }",
    "modems: { ports: [], emulator: { count: 2 } }",
    "plugins:",
    "  onlinesim: { enabled: true, apiKey: reload-key, pushUrl: 'http://127.0.0.1:9/push', services: [vk] }",
    `  number-exceptions: { enabled: true, masks: ${JSON.stringify(masks)} }`,
  ].join("\n");

describe("SIGHUP", () => {
  it("re-reads the config: new number masks show in the next GET_SERVICES; a broken file keeps the running config", async () => {
    const dir = await makeTempDir();
    const file = join(dir, "config.yaml");
    await writeFile(file, config(join(dir, "data"), []));
    const hub = spawnHub(file);
    const { child, exited } = hub;
    try {
      const port = await hub.port();
      const vkCount = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/onlinesim?action=GET_SERVICES&apikey=reload-key`);
        const body = (await res.json()) as { countryList: { operatorMap: Record<string, Record<string, number>> }[] };
        return body.countryList.reduce((sum, c) => sum + (c.operatorMap.any?.vk ?? 0), 0);
      };
      await waitFor("two numbers", async () => ((await vkCount()) === 2 ? true : undefined));

      await writeFile(file, config(join(dir, "data"), ["79000000001"]));
      child.kill("SIGHUP");
      await waitFor("one number after the reload", async () => ((await vkCount()) === 1 ? true : undefined));

      await writeFile(file, "hub: [this is not: valid\n");
      child.kill("SIGHUP");
      await waitFor("the reload error in the log", async () => (/config reload failed; keeping the running config/.test(hub.output()) ? true : undefined));
      assert.equal(await vkCount(), 1, "still serving with the last good config");
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
