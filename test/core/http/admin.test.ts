import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { adminTokenPath, readAdminToken } from "../../../core/http/admin.ts";
import { makeTempDir, startTestHub, type TestHub } from "../../helpers/hub.ts";

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
    assert.match((await cli("modems")).stdout, /^no modems found[\s\S]*\(no hub is running: the ports were probed directly\)/);
  });

  it("`simhive modems` with no hub running probes the ports itself", async () => {
    const dir = await makeTempDir();
    const config = join(dir, "probe.yaml");
    await writeFile(config, `hub: { dataDir: ${dir} }\nhttp: { host: 127.0.0.1, port: 1 }\nmodems: { ports: [], emulator: { count: 2 } }\n`);
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "modems", "--config", config], { cwd: ROOT });
    const rows = stdout.split("\n").filter((line) => /^usb-\S+ .* ready /.test(line));
    assert.equal(rows.length, 2, stdout);
    assert.match(stdout, /\+79000000001/);
    assert.match(stdout, /probed directly/);
    await rm(dir, { recursive: true, force: true });
  });
});
