/** The modem layer (serialport-gsm underneath) drives emulated modems hosted in a worker thread. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emulatedIdentity } from "../../../../core/modems/emulated.ts";
import { RemoteEmulator, emulatorRegistry } from "../../../../core/modems/emulator/index.ts";
import { startHarness, waitFor } from "../harness.ts";

describe("worker-hosted emulated modems", () => {
  it("reach ready through the layer; a single-part and a two-part SMS injected in the worker are persisted", async (t) => {
    const emulator = await RemoteEmulator.start({ count: 2 });
    t.after(() => emulator.stop());
    const ids = [1, 2].map((n) => emulatedIdentity(n, { cnumEvery: 2, pathPrefix: "/emu/by-path/" }));
    assert.deepEqual(emulator.paths, ids.map((id) => id.path));
    // the modems live in the worker, not in this thread's registry
    for (const id of ids) assert.equal(emulatorRegistry.get(id.path), undefined);

    const h = await startHarness({ ports: ["/emu/by-path/*"] }, { layer: { portClass: emulator.Port } });
    t.after(() => h.dispose());
    for (const id of ids) {
      const info = await waitFor(() => h.info(id.path)?.state === "ready" && h.info(id.path), `${id.path} ready`);
      assert.equal(info.imei, id.imei);
      assert.equal(info.iccid, id.iccid);
      assert.equal(info.msisdn, id.msisdn, id.cnum ? "number by AT+CNUM" : "number by USSD");
    }

    const long = `Your code is 4711. ${"This part makes the message longer than one SMS. ".repeat(4)}`;
    assert.ok(long.length > 160);
    const [first, second] = ids;
    assert.ok(first && second);
    assert.deepEqual(await emulator.inject(first.path, { sender: "79001234567", text: "Your code is 1234" }), [1]);
    assert.equal((await emulator.inject(second.path, { sender: "Telegram", text: long })).length, 2);
    await waitFor(() => h.received.length === 2, "both SMS persisted");
    const byIccid = new Map(h.received.map((message) => [message.iccid, message]));
    assert.equal(byIccid.get(first.iccid)?.text, "Your code is 1234");
    assert.equal(byIccid.get(first.iccid)?.sender, "79001234567");
    assert.equal(byIccid.get(second.iccid)?.text, long);
    assert.equal(byIccid.get(second.iccid)?.msisdn, second.msisdn);
    // read and deleted from the SIMs in the worker
    await waitFor(async () => (await emulator.stats()).stored === 0, "the SIMs emptied");
    const stats = await emulator.stats();
    assert.equal(stats.injected, 2);
    assert.ok(stats.commands > 0);

    // a burst in one message to the worker
    const slots = await emulator.injectMany(ids.map((id) => ({ path: id.path, options: { sender: "79005556677", text: `burst for ${id.iccid}` } })));
    assert.equal(slots.length, 2);
    await waitFor(() => h.received.length === 4, "the burst persisted");
    for (const id of ids) assert.ok(h.received.some((message) => message.iccid === id.iccid && message.text === `burst for ${id.iccid}`));
  });

  it("open fails like a missing device for an unknown or unplugged path, and an unplug disconnects an open port", async (t) => {
    const emulator = await RemoteEmulator.start({ count: 1, pathPrefix: "/emu/remote/" });
    t.after(() => emulator.stop());
    const [path] = emulator.paths;
    assert.ok(path);
    await assert.rejects(emulator.binding.open({ path: "/emu/remote/nothing", baudRate: 115200 }), { code: "ENOENT" });
    assert.deepEqual((await emulator.Port.list()).map((port) => port.path), [path]);

    const port = await emulator.binding.open({ path, baudRate: 115200 });
    await assert.rejects(emulator.binding.open({ path, baudRate: 115200 }), { code: "EBUSY" });
    await port.write(Buffer.from("ATE0\r"));
    const buffer = Buffer.alloc(64);
    let text = "";
    while (!text.includes("OK\r\n")) {
      const { bytesRead } = await port.read(buffer, 0, buffer.length);
      text += buffer.toString("latin1", 0, bytesRead);
    }
    assert.match(text, /\r\nOK\r\n/);

    await emulator.control(path, "unplug");
    await assert.rejects(port.read(buffer, 0, buffer.length), { code: "EIO" });
    assert.deepEqual(await emulator.Port.list(), []);
    await assert.rejects(emulator.binding.open({ path, baudRate: 115200 }), { code: "ENOENT" });
    await emulator.control(path, "replug");
    const again = await emulator.binding.open({ path, baudRate: 115200 });
    await again.close();
  });
});
