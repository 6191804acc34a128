/** 64 modems in one process: a burst of 640 SMS, then an idle state with no timers left. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeDeliver } from "../../../../core/modems/pdu/index.ts";
import { EmulatedModem, RawSession, createBench, modemOptions } from "./helpers.ts";

const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;

describe("64 emulated modems", () => {
  it("take a burst of 640 SMS, list them all, and leave no timers behind", async () => {
    const baseline = timers();
    const bench = createBench();
    const sessions: RawSession[] = [];
    try {
      for (let hub = 0; hub < 64; hub++) {
        const path = `/emu/by-path/usb-0:1.${Math.floor(hub / 8) + 1}.${(hub % 8) + 1}:1.2`;
        bench.registry.register(path, new EmulatedModem(modemOptions({ echo: false })));
        sessions.push(await RawSession.open(bench.Port, path));
      }
      const modems = bench.registry.entries().map(([, modem]) => modem);
      const indications = sessions.map((session) => session.waitFor((text) => (text.match(/\+CMTI:/g) ?? []).length === 10));
      for (let round = 0; round < 10; round++) {
        modems.forEach((modem, index) => modem.inject({ sender: "79161112233", text: `code ${index}-${round}` }));
      }
      await Promise.all(indications);
      sessions.forEach((session) => session.take());

      const lists = await Promise.all(sessions.map((session) => session.command("AT+CMGL=4")));
      lists.forEach((list, index) => {
        const texts = [...list.matchAll(/\r\n([0-9A-F]{20,})/g)].map((match) => decodeDeliver(match[1] ?? "").text);
        assert.deepEqual(texts, Array.from({ length: 10 }, (_, round) => `code ${index}-${round}`));
      });
      assert.equal(modems.reduce((sum, modem) => sum + modem.counters.stored, 0), 640);
      assert.equal(timers(), baseline, "idle modems hold no timers");
    } finally {
      for (const session of sessions) await session.close();
      bench.registry.clear();
    }
  });
});
