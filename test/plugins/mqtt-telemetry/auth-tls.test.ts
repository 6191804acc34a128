import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { AuthenticateError } from "aedes";
import { startAedes, startHub, uniqueName, Watcher, type Broker } from "./helpers.ts";
import { needsTool } from "../../helpers/process.ts";

// A broker of our own (TLS + credentials) is needed here, so these run on aedes even when MQTT_URL is set.
let dir: string;
let cert: { key: Buffer; cert: Buffer; caPath: string } | undefined;
const attempts: { username?: string; accepted: boolean }[] = [];
let broker: Broker | undefined;

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "simhive-mqtt-tls-"));
  if (!hasOpenssl()) return;
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyPath, "-out", certPath,
  ], { stdio: "ignore" });
  cert = { key: await readFile(keyPath), cert: await readFile(certPath), caPath: certPath };
  broker = await startAedes(0, {
    tls: { key: cert.key, cert: cert.cert },
    aedes: {
      authenticate: (_client, username, password, done) => {
        const accepted = username === "simhive" && password?.toString() === "s3cret";
        attempts.push({ username, accepted });
        if (accepted) done(null, true);
        else done(Object.assign(new Error("bad credentials"), { returnCode: 4 }) as AuthenticateError, null);
      },
    },
  });
});
after(async () => {
  await broker?.close();
  await rm(dir, { recursive: true, force: true });
});

const skip = needsTool(hasOpenssl(), "needs the openssl command to make a test certificate");

test("TLS with a CA file and username/password: the plugin connects and publishes", { skip }, async () => {
  assert.ok(broker && cert);
  const base = uniqueName("simhive-test");
  const hub = await startHub({
    config: { url: broker.url, baseTopic: base, username: "simhive", password: "s3cret", tls: { ca: cert.caPath, rejectUnauthorized: true } },
  });
  const watcher = await Watcher.open(broker.url, [`${base}/#`], { username: "simhive", password: "s3cret", ca: cert.cert });
  try {
    await watcher.waitOn(`${base}/${hub.hubId}/status`, (p) => p === "online");
  } finally {
    await watcher.close();
    await hub.stop();
  }
});

test("refused credentials: the hub still runs, the plugin is not connected", { skip }, async () => {
  assert.ok(broker && cert);
  const refusedBefore = attempts.filter((a) => a.username === "intruder").length;
  const hub = await startHub({
    config: { url: broker.url, baseTopic: uniqueName("simhive-test"), username: "intruder", password: "nope", tls: { ca: cert.caPath } },
  });
  try {
    assert.equal(hub.host.status("mqtt-telemetry"), "running");
    const deadline = Date.now() + 20_000;
    while (attempts.filter((a) => a.username === "intruder").length === refusedBefore) {
      assert.ok(Date.now() < deadline, "the plugin never tried to connect");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const connected = await hub.metrics.getSingleMetric("simhive_mqtt_connected")?.get();
    assert.equal(connected?.values[0]?.value, 0);
  } finally {
    await hub.stop();
  }
});

test("a TLS file that cannot be read fails the plugin's start with a config error, and only it", async () => {
  const hub = await startHub({ config: { url: "mqtts://127.0.0.1:1", baseTopic: uniqueName("simhive-test"), tls: { ca: join(dir, "missing.pem") } } });
  try {
    assert.equal(hub.host.status("mqtt-telemetry"), "failed");
    assert.match(hub.host.list()[0]?.error ?? "", /tls\.ca: cannot read/);
  } finally {
    await hub.stop();
  }
});
