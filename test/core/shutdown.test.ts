import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
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

  it("under systemd (NOTIFY_SOCKET set) sends READY=1 with a STATUS line once serving, WATCHDOG=1, and STOPPING=1", async () => {
    const dir = await makeTempDir();
    const calls = join(dir, "calls.log");
    // systemd-notify itself needs a running systemd; this stand-in records what the hub asks it to send.
    await writeFile(join(dir, "systemd-notify"), `#!/bin/sh\necho "$*" >> ${calls}\n`);
    await chmod(join(dir, "systemd-notify"), 0o755);
    const config = join(dir, "config.yaml");
    await writeFile(config, `hub: { dataDir: ${join(dir, "data")} }\nhttp: { host: 127.0.0.1, port: 0 }\nmodems: { ports: [] }\n`);
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", config], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "1000000" },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const log = () => readFile(calls, "utf8");
      await waitFor("READY=1", async () => ((await log()).includes("READY=1") ? true : undefined));
      await waitFor("WATCHDOG=1", async () => ((await log()).includes("WATCHDOG=1") ? true : undefined));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const lines = (await log()).split("\n");
      const ready = lines.find((l) => l.includes("READY=1")) ?? "";
      assert.match(ready, new RegExp(`--pid=${child.pid} READY=1 STATUS=0/0 modems ready, 0 numbers`));
      assert.ok(lines.some((l) => l.includes("STOPPING=1")));
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("without NOTIFY_SOCKET never calls systemd-notify", async () => {
    const dir = await makeTempDir();
    const calls = join(dir, "calls.log");
    await writeFile(join(dir, "systemd-notify"), `#!/bin/sh\necho "$*" >> ${calls}\n`);
    await chmod(join(dir, "systemd-notify"), 0o755);
    const config = join(dir, "config.yaml");
    await writeFile(config, `hub: { dataDir: ${join(dir, "data")} }\nhttp: { host: 127.0.0.1, port: 0 }\nmodems: { ports: [] }\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
    delete env.NOTIFY_SOCKET;
    let output = "";
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", config], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor("start", async () => (output.includes('"msg":"hub started"') ? true : undefined));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      await assert.rejects(readFile(calls, "utf8"), { code: "ENOENT" });
      assert.doesNotMatch(output, /systemd-notify failed/);
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
