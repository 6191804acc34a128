import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SimhiveError } from "../../../core/errors.ts";
import { classifyOpenError } from "../../../core/modems/discovery.ts";
import { EmulatedModem, EmulatedSerialPort, emulatorRegistry } from "../../../core/modems/emulator/index.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { startHarness, waitFor } from "./harness.ts";

after(() => emulatorRegistry.clear());

/** As AtPort.open rejects: our message around the binding's error. */
function openError(cause: Error): SimhiveError {
  return new SimhiveError("SIMHIVE_ERR_MODEM", `/dev/ttyUSB0: cannot open: ${cause.message}`, { cause });
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("port open failures", () => {
  it("are classed by the cause's code, or the system error text of the native binding (which sets no code)", () => {
    const absent = [
      withCode("Error: No such file or directory, cannot open /dev/ttyUSB0", "ENOENT"),
      withCode("whatever", "ENODEV"),
      withCode("whatever", "ENXIO"),
      new Error("Error: No such file or directory, cannot open /dev/ttyUSB0"),
      new Error("Error: No such device, cannot open /dev/ttyUSB0"),
      new Error("Error: No such device or address, cannot open /dev/ttyUSB0"),
    ];
    for (const cause of absent) assert.equal(classifyOpenError(openError(cause)).kind, "absent", cause.message);
    const denied = [withCode("x", "EACCES"), withCode("x", "EPERM"), new Error("Error: Permission denied, cannot open /dev/ttyUSB0"), new Error("Error: Operation not permitted, cannot open /dev/ttyUSB0")];
    for (const cause of denied) {
      const failure = classifyOpenError(openError(cause));
      assert.equal(failure.kind, "denied", cause.message);
      assert.match(failure.hint, /dialout/);
    }
    const busy = [withCode("x", "EBUSY"), new Error("Error: Device or resource busy, cannot open /dev/ttyUSB0"), new Error("Error Resource temporarily unavailable Cannot lock port")];
    for (const cause of busy) {
      const failure = classifyOpenError(openError(cause));
      assert.equal(failure.kind, "busy", cause.message);
      assert.match(failure.hint, /another process/);
    }
    assert.equal(classifyOpenError(new SimhiveError("SIMHIVE_ERR_TIMEOUT", "/dev/ttyUSB0: open did not finish within 5000 ms")).kind, "other");
  });

  it("a port held by another process: failed (not absent, not removed), a log line saying so, and ready once it is free", async (t) => {
    const prefix = "/emu/busy/";
    const path = `${prefix}usb-0:1.1:1.2`;
    const modem = new EmulatedModem({ imei: "860000000000321", imsi: "250010000000321", iccid: "89701990000000003213", msisdn: "79000000321", cnum: true });
    emulatorRegistry.register(path, modem);
    const capture = capturingLogger();
    const h = await startHarness({ ports: [`${prefix}*`], absentSeconds: 0, maxBackoffSeconds: 1 }, { log: capture.log, layer: { portClass: EmulatedSerialPort } });
    t.after(() => h.dispose());
    const removed: string[] = [];
    h.bus.on("modem.removed", "test", ({ port }) => {
      removed.push(port);
    });
    modem.unplug();
    await waitFor(() => h.info(path)?.state === "absent", "absent");
    modem.replug();
    // someone else (minicom, ModemManager) opens it first
    const other = await new Promise<EmulatedSerialPort>((resolve, reject) => {
      const port: EmulatedSerialPort = new EmulatedSerialPort({ path, baudRate: 115200 }, (error) => (error ? reject(error) : resolve(port)));
    });
    const seen = h.states.length;
    await h.layer.rescan();
    await waitFor(() => h.info(path)?.state === "failed", "failed while the port is held");
    assert.match(h.info(path)?.reason ?? "", /another process/);
    await h.layer.rescan(); // absentSeconds is 0: an absent modem would be removed here
    assert.deepEqual(removed, []);
    assert.ok(h.info(path));
    assert.ok(capture.lines.some((l) => l.port === path && /another process/.test(String(l.msg))), "a log line tells the operator");
    await new Promise<void>((resolve) => other.close(() => resolve()));
    await waitFor(() => h.info(path)?.state === "ready", "ready once the port is free");
    assert.ok(!h.states.slice(seen).some((s) => s.port === path && s.state === "absent"), "never shown absent while held");
  });
});
