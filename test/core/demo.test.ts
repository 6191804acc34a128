import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

describe("simhive demo", () => {
  it("walks a newcomer through the whole flow on emulated modems and exits 0", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "demo", "--modems", "3", "--exit"], { cwd: ROOT, timeout: 120_000 });
    const reserved = /"status":"SUCCESS","number":(\d+),"activationId":(\d+)/.exec(stdout);
    assert.ok(reserved, stdout);
    const [, number, activationId] = reserved;
    const push = /partner stub <- POST \/v1\/PUSH_SMS (\{.*\})/.exec(stdout);
    assert.ok(push, "the partner stub received a PUSH_SMS");
    const body = JSON.parse(push[1] as string) as Record<string, unknown>;
    assert.equal(body.smsId, Number(activationId));
    assert.equal(body.phone, number);
    assert.equal(body.phoneFrom, "VK");
    assert.equal(body.action, "PUSH_SMS");
    const counts = [...stdout.matchAll(/"any":\{"vk":(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(counts, [3, 2], "the sold number is spent for vk");
    assert.match(stdout, /demo done$/m);
  });
});
