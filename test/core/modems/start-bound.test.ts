import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { withTimeout } from "../../../core/errors.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import type { SmsMessage } from "../../../core/types.ts";
import { startTestHub } from "../../helpers/hub.ts";
import { PartnerStub } from "../../plugins/onlinesim/partner-stub.ts";
import { API_KEY, post } from "../../plugins/onlinesim/rig.ts";
import { waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

describe("hub start and a modem slow to initialise", () => {
  it("the hub starts without waiting for it; it joins the numbers, the counts and the intake when it is ready", async (t) => {
    const prefix = "/emu/late/";
    const modems = [1, 2, 3].map((n) => {
      const modem = new EmulatedModem({ imei: `86000000000096${n}`, imsi: `25001000000096${n}`, iccid: `8970199000000000096${n}`, msisdn: `7900000096${n}`, cnum: true, operator: "MTS RUS" });
      emulatorRegistry.register(`${prefix}usb-0:1.${n}:1.2`, modem);
      return modem;
    });
    const late = modems[0]!;
    // it answers the probe, then stops answering in the middle of init (ATE0) until the test lets it go
    const stall = (line: string) => {
      if (line !== "ATE0") return;
      late.off("command", stall);
      late.hang();
    };
    late.on("command", stall);

    const stub = await new PartnerStub([]).listen();
    t.after(() => stub.close());
    // hang guard: far below the 2 × 60 s the stalled init would take, and below the old 20 s start wait
    const hub = await withTimeout(
      startTestHub({
        config: {
          modems: { ports: [`${prefix}*`], commandTimeoutSeconds: 60 },
          plugins: { onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: stub.url, services: ["vk"] } },
        },
        modemOptions: { portClass: EmulatedSerialPort },
      }),
      15_000,
      "hub start",
    );
    t.after(() => hub.cleanup());
    const latePath = `${prefix}usb-0:1.1:1.2`;
    const info = () => hub.hub.modems.list().find((m) => m.port === latePath);
    assert.equal(info()?.state, "initializing", "its ATE0 is still outstanding when the hub is up");

    const vkCount = async () => {
      const reply = await post(hub.url, { action: "GET_SERVICES", key: API_KEY });
      const list = reply.json.countryList as { country: string; operatorMap: Record<string, Record<string, number>> }[];
      return list.find((c) => c.country === "russia")?.operatorMap.any?.vk;
    };
    await waitFor(() => hub.hub.modems.numbers.list().length === 2, "the two quick modems' numbers");
    assert.equal(await vkCount(), 2);

    late.unplug(); // the port goes away and comes back: the modem answers again
    late.replug();
    await waitFor(() => info()?.state === "ready", "the late modem ready", 30_000);
    await waitFor(() => hub.hub.modems.numbers.byMsisdn("79000000961"), "its number offered");
    assert.equal(await vkCount(), 3);

    const received: SmsMessage[] = [];
    hub.hub.bus.on("sms.received", "test", ({ message }) => {
      received.push(message);
    });
    late.inject({ sender: "79001112233", text: "to the late one" });
    const message = await waitFor(() => received.find((m) => m.iccid === late.options.iccid), "its SMS");
    assert.equal(message.msisdn, "79000000961");
  });
});
