import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModemLayerImpl } from "../../core/modems/index.ts";
import { capturingLogger, startTestHub } from "../helpers/hub.ts";

async function receiveOne(logSmsText: boolean): Promise<string> {
  const { log, lines, raw } = capturingLogger();
  const hub = await startTestHub({ log, config: { modems: { emulator: { count: 1 } }, debug: { logSmsText } } });
  try {
    const [modem] = [...(hub.hub.modems as ModemLayerImpl).emulated.values()];
    assert.ok(modem);
    modem.inject({ sender: "+79161112233", text: "Ваш код 734215. Никому не сообщайте." });
    for (let i = 0; i < 400 && !lines.some((l) => l.msg === "message routed"); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(lines.some((l) => typeof l.msg === "string" && l.msg.startsWith("sms received")), "the SMS was received and logged");
    return raw();
  } finally {
    await hub.cleanup();
  }
}

describe("privacy", () => {
  it("keeps SMS texts, codes and senders out of the logs by default", async () => {
    const logs = await receiveOne(false);
    assert.doesNotMatch(logs, /734215/);
    assert.doesNotMatch(logs, /Никому/);
    assert.doesNotMatch(logs, /79161112233/);
  });

  it("logs them when debug.logSmsText says so", async () => {
    const logs = await receiveOne(true);
    assert.match(logs, /734215/);
    assert.match(logs, /79161112233/);
  });
});
