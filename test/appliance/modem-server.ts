/**
 * Serves emulated GSM modems (core/modems/emulator) on TCP ports of the
 * loopback address, one modem per port, for the appliance test: QEMU's
 * usb-serial devices connect to them as chardev sockets, so the guest sees
 * each modem as an FTDI USB-serial tty (/dev/ttyUSBn), as a SIM800 on a USB
 * adapter looks on a real hub.
 *
 *   tsx test/appliance/modem-server.ts PORT [PORT ...] < CONTROL
 *
 * Prints "modem-server: listening <port> ..." once every port listens, then a
 * line per connection; stops on SIGTERM/SIGINT. Lines on stdin are faults for
 * the hub's recovery ladder: "hang N" (modem N, counted from 1, stops
 * answering AT commands, its port stays open) and "unhang N".
 */
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { EmulatedModem } from "../../core/modems/emulator/index.ts";

const ports = process.argv.slice(2).map((arg) => Number(arg));
if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port <= 0 || port > 65535)) {
  process.stderr.write("usage: modem-server.ts PORT [PORT ...]\n");
  process.exit(2);
}

const modems: EmulatedModem[] = [];

function serve(port: number, index: number): Promise<Server> {
  const digits = String(index + 1).padStart(2, "0");
  const modem = new EmulatedModem({
    imei: `8600000000000${digits}`,
    imsi: `2500200000000${digits}`,
    iccid: `897010200000000000${digits}`,
    msisdn: `791600000${digits}`,
    cnum: true,
    operator: "Appliance",
  });
  modems[index] = modem;
  const server = createServer((socket: Socket) => {
    process.stdout.write(`modem-server: port ${port} connected\n`);
    const link = {
      data: (chunk: Buffer) => {
        socket.write(chunk);
      },
      disconnect: () => {
        socket.destroy();
      },
    };
    if (modem.isAttached) {
      socket.destroy();
      return;
    }
    modem.attach(link);
    socket.on("data", (chunk: Buffer) => modem.receive(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      modem.detach(link);
      process.stdout.write(`modem-server: port ${port} closed\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const servers = await Promise.all(ports.map((port, index) => serve(port, index)));
process.stdout.write(`modem-server: listening ${ports.join(" ")}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  const [fault, number] = line.trim().split(/\s+/);
  const modem = modems[Number(number) - 1];
  if (!modem || (fault !== "hang" && fault !== "unhang")) {
    process.stdout.write(`modem-server: ignored control line '${line}'\n`);
    return;
  }
  if (fault === "hang") modem.hang();
  else modem.unhang();
  process.stdout.write(`modem-server: modem ${number} ${fault === "hang" ? "hung" : "answers again"}\n`);
});
const stop = () => {
  for (const server of servers) server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
