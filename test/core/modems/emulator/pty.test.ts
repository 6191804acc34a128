/** The emulator behind a real pty, driven through the native serialport binding. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { SerialPort } from "serialport";
import { EmulatedModem } from "../../../../core/modems/emulator/index.ts";
import { servePty } from "../../../../core/modems/emulator/pty.ts";
import { modemOptions } from "./helpers.ts";
import { needsTool } from "../../../helpers/process.ts";

const require = createRequire(import.meta.url);
const socatMissing = spawnSync("socat", ["-V"]).error !== undefined;
const skip = needsTool(!socatMissing, "socat is not installed (apt-get install socat); .ci/run installs it");

function openNative(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 115200 }, (error) => (error ? reject(error) : resolve(port)));
  });
}

describe("servePty", () => {
  it("answers AT commands and sends +CMTI over a real pty", { skip }, async () => {
    const modem = new EmulatedModem(modemOptions({ echo: false }));
    const pty = await servePty(modem);
    const port = await openNative(pty.path);
    try {
      let received = "";
      const until = (pattern: RegExp): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (!pattern.test(received)) return;
            port.off("data", onData);
            resolve();
          };
          const onData = (chunk: Buffer): void => {
            received += chunk.toString("latin1");
            check();
          };
          port.on("data", onData);
          check();
        });
      port.write("AT+CGSN\r");
      await until(/OK\r\n/);
      assert.equal(received, `\r\n${modem.options.imei}\r\n\r\nOK\r\n`);
      received = "";
      modem.inject({ sender: "79161112233", text: "over the pty" });
      await until(/\+CMTI: "SM",1\r\n/);
      assert.equal(received, '\r\n+CMTI: "SM",1\r\n');
    } finally {
      await new Promise<void>((resolve) => port.close(() => resolve()));
      await pty.close();
    }
  });

  it("serves serialport-gsm using the native SerialPort class", { skip }, async () => {
    const modem = new EmulatedModem(modemOptions());
    modem.inject({ sender: "VK", text: "VK: 123456" });
    const pty = await servePty(modem);
    const Factory = require("serialport-gsm/lib/functions/modem") as new (port: unknown) => {
      open(path: string, options: object): Promise<unknown>;
      initializeModem(): Promise<{ status: string }>;
      setModemMode(mode: string): Promise<unknown>;
      getSimInbox(): Promise<{ data: { sender: string; message: string }[] }>;
      close(): Promise<unknown>;
      on(event: string, listener: () => void): void;
    };
    const gsm = new Factory(SerialPort);
    try {
      await gsm.open(pty.path, { baudRate: 115200 });
      assert.equal((await gsm.initializeModem()).status, "success");
      await gsm.setModemMode("PDU");
      const inbox = await gsm.getSimInbox();
      assert.deepEqual(inbox.data.map((sms) => [sms.sender, sms.message]), [["VK", "VK: 123456"]]);
    } finally {
      const closed = once(gsm as unknown as NodeJS.EventEmitter, "close");
      await gsm.close();
      await closed;
      await pty.close();
    }
  });
});
