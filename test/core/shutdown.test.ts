import assert from "node:assert/strict";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTempDir } from "../helpers/hub.ts";
import { spawnHub, waitFor } from "../helpers/process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * systemd-notify needs a running systemd; this stand-in on PATH records what
 * the hub asks it to send. A minimal config beside it.
 */
async function notifyRig() {
  const dir = await makeTempDir();
  const calls = join(dir, "calls.log");
  await writeFile(join(dir, "systemd-notify"), `#!/bin/sh\necho "$*" >> ${calls}\n`);
  await chmod(join(dir, "systemd-notify"), 0o755);
  const config = join(dir, "config.yaml");
  await writeFile(config, `hub: { dataDir: ${join(dir, "data")} }\nhttp: { host: 127.0.0.1, port: 0 }\nmodems: { ports: [] }\n`);
  return { dir, calls, config };
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
    const hub = spawnHub(config, { ...process.env, NOTIFY_SOCKET: "" });
    const { child, exited } = hub;
    try {
      const port = await hub.port();
      const url = `http://127.0.0.1:${port}`;
      await waitFor("readiness", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
      const inFlight = fetch(`${url}/slow-route/wait?ms=1500`).then(async (res) => ({ status: res.status, body: await res.json() }));
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGTERM");
      const answer = await inFlight;
      assert.deepEqual(answer, { status: 200, body: { waited: 1500 } });
      assert.equal(await exited, 0, hub.output());
      assert.match(hub.output(), /"msg":"hub stopped"/);
      await assert.rejects(fetch(`${url}/healthz`), "no longer accepting");
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("SIGTERM while the hub is still starting: it stops once the start is over and exits 0", async () => {
    const dir = await makeTempDir();
    const config = join(dir, "config.yaml");
    await writeFile(
      config,
      [
        `hub: { dataDir: ${join(dir, "data")}, pluginDirs: [${join(ROOT, "test/fixtures/plugins")}] }`,
        "http: { host: 127.0.0.1, port: 0 }",
        "modems: { ports: [] }",
        "plugins:",
        "  slow-start: { enabled: true, ms: 1500 }",
      ].join("\n"),
    );
    const hub = spawnHub(config);
    try {
      await hub.port(); // listening: plugins are starting now
      assert.doesNotMatch(hub.output(), /"msg":"hub started"/);
      hub.child.kill("SIGTERM");
      assert.equal(await hub.exited, 0, hub.output());
      assert.match(hub.output(), /"msg":"stop requested while starting"/);
      assert.match(hub.output(), /"msg":"hub stopped"/);
    } finally {
      hub.child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("under systemd (NOTIFY_SOCKET set) sends READY=1 with a STATUS line once serving, WATCHDOG=1, and STOPPING=1", async () => {
    const { dir, calls, config } = await notifyRig();
    const { child, exited } = spawnHub(config, { ...process.env, PATH: `${dir}:${process.env.PATH}`, NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "1000000" });
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
    const { dir, calls, config } = await notifyRig();
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
    delete env.NOTIFY_SOCKET;
    const hub = spawnHub(config, env);
    const { child, exited } = hub;
    try {
      await waitFor("start", async () => (hub.output().includes('"msg":"hub started"') ? true : undefined));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      await assert.rejects(readFile(calls, "utf8"), { code: "ENOENT" });
      assert.doesNotMatch(hub.output(), /systemd-notify failed/);
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
