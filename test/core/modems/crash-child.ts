/**
 * The hub's modem layer in a process of its own, for crash tests
 * (crash.test.ts): `node --import tsx crash-child.ts <dataDir> <port> <killOn>`.
 * Writes one JSON line per event to stdout ({ ready }, { received }).
 * killOn "received": SIGKILLs itself as soon as an SMS is announced (its
 * synced batch is on disk, AT+CMGD not sent yet). Otherwise it runs until
 * stdin closes, then stops gracefully.
 */
import { join } from "node:path";
import { EventBus } from "../../../core/bus.ts";
import { silentLogger } from "../../../core/log.ts";
import { createModemLayer } from "../../../core/modems/index.ts";
import { Store } from "../../../core/store/store.ts";

const [dataDir = "", port = "", killOn = "never"] = process.argv.slice(2);
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const log = silentLogger();
const store = await Store.open(dataDir, log);
const bus = new EventBus(log);
bus.on("sms.received", "crash-child", ({ message }) => {
  say({ received: message.text });
  if (killOn === "received") process.kill(process.pid, "SIGKILL");
});
const layer = createModemLayer({ ports: [port], sweepSeconds: 3600, pingSeconds: 3600, rescanSeconds: 3600, commandTimeoutSeconds: 2 }, { log, bus, store }, { trigger: join(dataDir, "rescan") });
await layer.start();
say({ ready: layer.list()[0]?.state });
process.stdin.resume();
process.stdin.on("end", () => {
  void (async () => {
    await layer.stop();
    await store.close();
    process.exit(0);
  })();
});
