import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { adminTokenPath, readAdminToken } from "../../../core/http/admin.ts";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";

const run = promisify(execFile);
const ROOT = new URL("../../../", import.meta.url).pathname;

describe("admin endpoints", () => {
  let hub: TestHub;
  let token: string;
  before(async () => {
    hub = await startTestHub();
    token = await readAdminToken(hub.dataDir);
  });
  after(async () => hub.cleanup());

  it("keeps the token in a file only the hub's user can read", async () => {
    assert.equal((await stat(adminTokenPath(hub.dataDir))).mode & 0o777, 0o600);
    assert.ok(token.length >= 32);
  });

  it("refuses requests without the token, with a wrong one, or through a proxy", async () => {
    assert.equal((await fetch(`${hub.url}/admin/modems`)).status, 403);
    assert.equal((await fetch(`${hub.url}/admin/modems`, { headers: { authorization: `Bearer ${token}x` } })).status, 403);
    assert.equal((await fetch(`${hub.url}/admin/modems`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": "203.0.113.9" } })).status, 403);
  });

  it("answers a local request with the token", async () => {
    const res = await fetch(`${hub.url}/admin/modems`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), []);
    const sms = await fetch(`${hub.url}/admin/sms`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(await sms.text(), "no messages");
  });

  it("`simhive sms` asks the running hub (whose store is locked), and reads the store itself when no hub runs", async () => {
    const config = join(hub.dataDir, "cli.yaml");
    await writeFile(config, `hub: { dataDir: ${hub.dataDir} }\nhttp: { host: 127.0.0.1, port: ${hub.hub.port} }\nmodems: { ports: [] }\n`);
    const cli = (command: string) => run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), command, "--config", config], { cwd: ROOT });
    assert.equal((await cli("sms")).stdout.trim(), "no messages");
    assert.match((await cli("modems")).stdout, /^no modems found/);
    await hub.stop();
    assert.equal((await cli("activations")).stdout.trim(), "no activations");
    await assert.rejects(cli("modems"), (error: { code: number; stderr: string }) => error.code === 1 && /no hub answers/.test(error.stderr));
  });
});
