import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile, rm } from "node:fs/promises";
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

describe("shutdown", () => {
  it("SIGTERM with a request in flight: the request completes, then the process exits 0", async () => {
    const dir = await makeTempDir();
    const config = join(dir, "config.yaml");
    await writeFile(
      config,
      [
        "hub:",
        `  dataDir: ${join(dir, "data")}`,
        `  pluginDirs: [${join(ROOT, "test/fixtures/plugins")}]`,
        "http: { host: 127.0.0.1, port: 0 }",
        "modems: { ports: [] }",
        "plugins:",
        "  slow-route: { enabled: true }",
      ].join("\n"),
    );
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", config], {
      cwd: ROOT,
      env: { ...process.env, NOTIFY_SOCKET: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const port = await waitFor("the listening log line", async () => {
        const match = /"msg":"http listening"/.test(output) ? /"port":(\d+)/.exec(output) : null;
        return match ? Number(match[1]) : undefined;
      });
      const url = `http://127.0.0.1:${port}`;
      await waitFor("readiness", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
      const inFlight = fetch(`${url}/slow-route/wait?ms=1500`).then(async (res) => ({ status: res.status, body: await res.json() }));
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGTERM");
      const answer = await inFlight;
      assert.deepEqual(answer, { status: 200, body: { waited: 1500 } });
      assert.equal(await exited, 0, output);
      assert.match(output, /"msg":"hub stopped"/);
      await assert.rejects(fetch(`${url}/healthz`), "no longer accepting");
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
