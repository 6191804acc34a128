import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { brokerForSuite, clearRetained, uniqueName, Watcher } from "./helpers.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/hub.ts", import.meta.url));

const broker = brokerForSuite();

test("a hub killed with SIGKILL shows offline through the broker's last will", async () => {
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const statusTopic = `${base}/${hubId}/status`;
  const dataDir = await mkdtemp(join(tmpdir(), "simhive-mqtt-lwt-"));
  const watcher = await Watcher.open(broker.url, [statusTopic, `${base}/${hubId}/modems/+`]);
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    env: { ...process.env, MQTT_URL: broker.url, SIMHIVE_BASE_TOPIC: base, SIMHIVE_HUB_ID: hubId, SIMHIVE_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  try {
    await watcher.waitOn(statusTopic, (p) => p === "online", "the child hub online");
    await watcher.waitOn(`${base}/${hubId}/modems/356938035643809`);
    child.kill("SIGKILL");
    const [, signal] = await exited;
    assert.equal(signal, "SIGKILL");
    const offline = await watcher.waitOn(statusTopic, (p) => p === "offline", "the last will");
    assert.equal(offline.payload, "offline");

    // And it stays: a subscriber arriving now reads offline, retained.
    const late = await Watcher.open(broker.url, [statusTopic]);
    try {
      const retained = await late.waitOn(statusTopic);
      assert.equal(retained.payload, "offline");
      assert.equal(retained.retain, true);
    } finally {
      await late.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await watcher.close();
    await rm(dataDir, { recursive: true, force: true });
    await clearRetained(broker.url, [`${base}/#`]);
  }
});
