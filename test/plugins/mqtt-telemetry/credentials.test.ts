/**
 * Refused credentials are a configuration error (STYLE.md, zwave-js-ui's
 * backoffRestart): one error naming the config keys, a gauge, a retry only
 * every refusedRetrySeconds, and at once on a config reload. Brokers of our
 * own: aedes with an authenticate hook always, and, under MQTT_URL, a
 * mosquitto of our own with a password file.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { AuthenticateError } from "aedes";
import { capturingLogger } from "../../helpers/hub.ts";
import { Publisher } from "../../../plugins/mqtt-telemetry/publisher.ts";
import { gaugeValue, startAedes, startHub, uniqueName, Watcher, type Broker } from "./helpers.ts";
import { waitUntil } from "./real-hub.ts";
import { needsTool } from "../../helpers/process.ts";

const USER = "simhive";
const PASSWORD = "s3cret";

/** An aedes broker that accepts USER/PASSWORD (or anyone, once `acceptAll` is set) and counts the attempts. */
async function authBroker(): Promise<{ broker: Broker; attempts: string[]; acceptAll: () => void }> {
  const attempts: string[] = [];
  let all = false;
  const broker = await startAedes(0, {
    aedes: {
      authenticate: (_client, username, password, done) => {
        attempts.push(username ?? "");
        if (all || (username === USER && password?.toString() === PASSWORD)) done(null, true);
        else done(Object.assign(new Error("bad credentials"), { returnCode: 4 }) as AuthenticateError, null);
      },
    },
  });
  return { broker, attempts, acceptAll: () => (all = true) };
}

const refusedErrors = (lines: Record<string, unknown>[]): Record<string, unknown>[] =>
  lines.filter((line) => line.level === "error" && /refused the credentials/.test(String(line.msg)));

test("refused credentials: retried only every refusedRetryMs, a lost connection backs off from 1 s, one error names the config keys", async () => {
  const { broker, attempts } = await authBroker();
  const capture = capturingLogger();
  const waits: number[] = [];
  const retries: (() => void)[] = [];
  const publisher = new Publisher({
    url: broker.url,
    clientOptions: { clientId: uniqueName("refused"), username: USER, password: "wrong" },
    statusTopic: `${uniqueName("simhive-test")}/status`,
    reconnectMaxMs: 60_000,
    refusedRetryMs: 600_000,
    log: capture.log,
    schedule: (run, delayMs) => {
      waits.push(delayMs);
      retries.push(run);
      return () => {};
    },
  });
  try {
    publisher.start();
    await waitUntil("the first wait", () => waits.length === 1);
    assert.deepEqual(waits, [600_000], "refused: the next attempt in 10 minutes, not at the backoff's 1 s");
    assert.equal(attempts.length, 1);
    assert.equal(publisher.refused, true);

    retries.shift()?.();
    await waitUntil("the second wait", () => waits.length === 2);
    assert.deepEqual(waits, [600_000, 600_000]);
    assert.equal(attempts.length, 2);
    const errors = refusedErrors(capture.lines);
    assert.equal(errors.length, 1, "the error is logged once, not on every attempt");
    assert.match(String(errors[0]?.msg), /plugins\.mqtt-telemetry\.username and plugins\.mqtt-telemetry\.password/);
    assert.deepEqual(errors[0]?.keys, ["plugins.mqtt-telemetry.username", "plugins.mqtt-telemetry.password"]);
    assert.ok(!capture.raw().includes("wrong"), "the password is not logged");

    // The right password (a reload) connects; a connection lost later backs off from 1 s again.
    publisher.reconfigure({ clientOptions: { clientId: uniqueName("refused"), username: USER, password: PASSWORD } });
    await waitUntil("connected", () => publisher.connected);
    assert.equal(publisher.refused, false);
    await broker.close();
    await waitUntil("the wait after the broker went away", () => waits.length === 3);
    assert.equal(waits[2], 1_000);
  } finally {
    await publisher.stop();
    await broker.close();
  }
});

test("refused credentials on a hub: the plugin runs, a gauge shows it, and a config reload connects at once", async () => {
  const { broker, attempts, acceptAll } = await authBroker();
  const capture = capturingLogger();
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const status = `${base}/${hubId}/status`;
  const watcher = await Watcher.open(broker.url, [status], { username: USER, password: PASSWORD });
  const section = { url: broker.url, baseTopic: base, username: USER, password: "wrong" };
  const hub = await startHub({ hubId, log: capture.log, config: section });
  try {
    await waitUntil("refused", () => refusedErrors(capture.lines).length === 1);
    assert.equal(hub.host.status("mqtt-telemetry"), "running", "a refused broker does not fail the plugin (or the hub)");
    assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_credentials_refused"), 1);
    assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_connected"), 0);

    // SIGHUP after the operator fixed the broker's side: the plugin tries again at once.
    const before = attempts.length;
    acceptAll();
    hub.bus.emit("config.reloaded", { changedSections: [] });
    await watcher.waitOn(status, (p) => p === "online", "online after the reload");
    assert.equal(attempts.length, before + 1);
    assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_credentials_refused"), 0);
  } finally {
    await watcher.close();
    await hub.stop();
    await broker.close();
  }
});

test("a reload with new credentials reconnects with them; a reload that changes a topic key is refused, naming the key", async () => {
  const { broker } = await authBroker();
  const capture = capturingLogger();
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const status = `${base}/${hubId}/status`;
  const watcher = await Watcher.open(broker.url, [status], { username: USER, password: PASSWORD });
  const section = { enabled: true, url: broker.url, baseTopic: base, username: USER, password: "wrong" };
  const hub = await startHub({ hubId, log: capture.log, config: section });
  try {
    await waitUntil("refused", () => refusedErrors(capture.lines).length === 1);
    assert.deepEqual(await hub.host.reload({ "mqtt-telemetry": { ...section, password: PASSWORD } }), [], "applied without a restart");
    await watcher.waitOn(status, (p) => p === "online", "online with the new password");
    assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_credentials_refused"), 0);

    await hub.host.reload({ "mqtt-telemetry": { ...section, password: PASSWORD, baseTopic: `${base}-other` } });
    const rejected = capture.lines.find((line) => /rejected the reloaded config/.test(String(line.msg)));
    assert.match(JSON.stringify(rejected?.err), /plugins\.mqtt-telemetry\.baseTopic: a change here needs a restart/);
    assert.equal(hub.host.status("mqtt-telemetry"), "running");
  } finally {
    await watcher.close();
    await hub.stop();
    await broker.close();
  }
});

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections on `port`. */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const hasMosquitto = spawnSync("mosquitto_passwd", ["-h"]).error === undefined && spawnSync("mosquitto", ["-h"]).error === undefined;

test(
  "refused credentials on mosquitto (a password file): one error, the gauge, and online after a reload with the right password",
  { skip: needsTool(hasMosquitto, "needs mosquitto and mosquitto_passwd") },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "simhive-mosquitto-"));
    const passwords = join(dir, "passwords");
    await writeFile(passwords, "");
    assert.equal(spawnSync("mosquitto_passwd", ["-b", passwords, USER, PASSWORD]).status, 0);
    const port = await freePort();
    const conf = join(dir, "mosquitto.conf");
    await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwords}\npersistence false\n`);
    // Run as root, mosquitto drops to its own user: it must be able to read the files.
    await chmod(dir, 0o755);
    await chmod(passwords, 0o644);
    const mosquitto: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    const exited = once(mosquitto, "exit");
    const url = `mqtt://127.0.0.1:${port}`;
    let hub: Awaited<ReturnType<typeof startHub>> | undefined;
    let watcher: Watcher | undefined;
    try {
      await listening(port);
      const base = uniqueName("simhive-test");
      const hubId = uniqueName("hub");
      const status = `${base}/${hubId}/status`;
      watcher = await Watcher.open(url, [status], { username: USER, password: PASSWORD });
      const capture = capturingLogger();
      const section = { enabled: true, url, baseTopic: base, username: USER, password: "wrong" };
      hub = await startHub({ hubId, log: capture.log, config: section });
      await waitUntil("refused", () => refusedErrors(capture.lines).length === 1);
      assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_credentials_refused"), 1);
      await hub.host.reload({ "mqtt-telemetry": { ...section, password: PASSWORD } });
      await watcher.waitOn(status, (p) => p === "online", "online with the right password");
      assert.equal(await gaugeValue(hub.metrics, "simhive_mqtt_credentials_refused"), 0);
      assert.equal(refusedErrors(capture.lines).length, 1);
    } finally {
      await watcher?.close();
      await hub?.stop();
      mosquitto.kill();
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  },
);
