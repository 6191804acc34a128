import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTempDir } from "../helpers/hub.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

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
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const port = await waitFor("listening", async () => {
        const match = /"msg":"http listening"/.test(output) ? /"port":(\d+)/.exec(output) : null;
        return match ? Number(match[1]) : undefined;
      });
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
      await waitFor("the reload error in the log", async () => (/config reload failed; keeping the running config/.test(output) ? true : undefined));
      assert.equal(await vkCount(), 1, "still serving with the last good config");
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
