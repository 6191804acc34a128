import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { silentLogger } from "../../../core/log.ts";
import { PartStore } from "../../../core/modems/parts.ts";
import { encodeDeliver } from "../../../core/modems/pdu/index.ts";
import { Store } from "../../../core/store/store.ts";

const ICCID = "8970199000000000031";

async function openParts(t: { after(fn: () => Promise<void>): void }): Promise<PartStore> {
  const dir = await mkdtemp(join(tmpdir(), "simhive-parts-"));
  const store = await Store.open(dir, silentLogger());
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return new PartStore(store, silentLogger());
}

/** The parts of a two-part message with reference 9 from "VK". */
function parts(text: string): [string, string] {
  const [one, two] = encodeDeliver({ sender: "VK", text, ref: 9, timestamp: new Date(0) });
  assert.ok(one && two);
  return [one, two];
}

const ONE = "1".repeat(153) + "o".repeat(17) + "one";
const TWO = "2".repeat(153) + "t".repeat(17) + "two";

describe("PartStore: a sender reusing reference and part count", () => {
  it("joins each message from its own parts and keeps the other's waiting part", async (t) => {
    const store = await openParts(t);
    const [one1, one2] = parts(ONE);
    const [two1, two2] = parts(TWO);
    assert.equal((await store.accept({ iccid: ICCID, raw: one1 }, 1000)).kind, "part");
    assert.equal((await store.accept({ iccid: ICCID, raw: two1 }, 2000)).kind, "part");
    const first = await store.accept({ iccid: ICCID, raw: one2 }, 3000);
    assert.equal(first.kind === "message" && first.message.text, ONE);
    const second = await store.accept({ iccid: ICCID, raw: two2 }, 4000);
    assert.equal(second.kind === "message" && second.message.text, TWO, "part 1 of the second message was kept");
  });

  it("releases two incomplete messages of one group separately, each once its own part is due", async (t) => {
    const store = await openParts(t);
    const [one1] = parts(ONE);
    const [two1] = parts(TWO);
    await store.accept({ iccid: ICCID, raw: one1 }, 1000);
    await store.accept({ iccid: ICCID, raw: two1 }, 5000);
    const early = await store.releaseExpired(2000, 4000);
    assert.deepEqual(early.map((m) => [m.text, m.complete]), [["1".repeat(153), false]]);
    const late = await store.releaseExpired(2000, 8000);
    assert.deepEqual(late.map((m) => [m.text, m.complete]), [["2".repeat(153), false]]);
    assert.deepEqual(await store.releaseExpired(0, 9000), []);
  });
});
