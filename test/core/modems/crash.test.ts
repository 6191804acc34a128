import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { silentLogger } from "../../../core/log.ts";
import { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { servePty, type PtyServer } from "../../../core/modems/emulator/pty.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { Store } from "../../../core/store/store.ts";
import { hasSocat, startHarness, waitFor } from "./harness.ts";
import { spyOnBatches } from "../../helpers/store.ts";
import { needsTool } from "../../helpers/process.ts";

const CHILD = new URL("./crash-child.ts", import.meta.url).pathname;
const LONG = "Код подтверждения ".repeat(5) + "🙂 9917";

/** The modem layer in a child process on `port`, writing to `dataDir`. */
class Hub {
  readonly received: string[] = [];
  ready = false;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;

  constructor(dataDir: string, port: string, killOn: "received" | "never") {
    this.#child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir, port, killOn], { stdio: ["pipe", "pipe", "inherit"] });
    this.exit = new Promise((resolve) => this.#child.once("exit", (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.#child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const event = JSON.parse(line) as { ready?: string; received?: string };
      if (event.ready !== undefined) this.ready = true;
      if (event.received !== undefined) this.received.push(event.received);
    });
  }

  kill(): void {
    this.#child.kill("SIGKILL");
  }

  /** A graceful stop (stdin closed). */
  async stop(): Promise<void> {
    this.#child.stdin?.end();
    await this.exit;
  }
}

interface Setup {
  modem: EmulatedModem;
  pty: PtyServer;
  dataDir: string;
}

async function setup(t: { after(fn: () => Promise<void>): void }, n: number): Promise<Setup> {
  const modem = new EmulatedModem({ imei: `86300000000000${n}`, imsi: "250010000000555", iccid: `897019900000000055${n}`, msisdn: "79000000555", cnum: true });
  const pty = await servePty(modem);
  const dataDir = await mkdtemp(join(tmpdir(), "simhive-crash-"));
  t.after(async () => {
    await pty.close();
    modem.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { modem, pty, dataDir };
}

/** Restarts the hub on the same data dir and SIM, waits until the SIM is empty, and reads what the store holds. */
async function restartAndRead({ modem, pty, dataDir }: Setup): Promise<{ announced: string[]; stored: string[] }> {
  const hub = new Hub(dataDir, pty.path, "never");
  await waitFor(() => hub.ready, "the restarted hub ready", 60_000);
  await waitFor(() => modem.storage().length === 0, "the SIM emptied", 60_000);
  await hub.stop();
  const store = await Store.open(dataDir, silentLogger());
  try {
    const stored = (await new MessageRepository(store).listRecent(100)).map((m) => m.text).sort();
    return { announced: hub.received, stored };
  } finally {
    await store.close();
  }
}

describe("a hub process killed with SIGKILL loses nothing and duplicates nothing", { skip: needsTool(hasSocat(), "socat not installed") }, () => {
  it("killed right after the intake's batch resolved, before AT+CMGD", async (t) => {
    const s = await setup(t, 1);
    // stored while the hub was down: the start sweep reads all three parts in one listing and one batch
    s.modem.inject({ sender: "79001234567", text: LONG, lostCmti: true });
    s.modem.inject({ sender: "79007654321", text: "Your code 4711", lostCmti: true });
    const hub = new Hub(s.dataDir, s.pty.path, "received");
    const { signal } = await hub.exit;
    assert.equal(signal, "SIGKILL");
    assert.equal(hub.received.length, 1, "killed at the first announcement");
    assert.equal(s.modem.storage().length, 3, "nothing deleted from the SIM");
    const { announced, stored } = await restartAndRead(s);
    assert.deepEqual(announced, [], "both recognised as duplicates, not announced again");
    assert.deepEqual(stored, [LONG, "Your code 4711"].sort());
  });

  it("killed when the modem receives AT+CMGD", async (t) => {
    const s = await setup(t, 2);
    const hub = new Hub(s.dataDir, s.pty.path, "never");
    s.modem.on("command", (line: string) => {
      if (line.startsWith("AT+CMGD")) hub.kill();
    });
    await waitFor(() => hub.ready, "the hub ready", 60_000);
    s.modem.inject({ sender: "79001234567", text: LONG });
    s.modem.inject({ sender: "79007654321", text: "Your code 4711" });
    assert.equal((await hub.exit).signal, "SIGKILL");
    const { stored } = await restartAndRead(s);
    assert.deepEqual(stored, [LONG, "Your code 4711"].sort(), "each once, whether or not the deletion ran before the kill");
  });

  it("killed while the slot is being read, before anything is on disk", async (t) => {
    const s = await setup(t, 3);
    const hub = new Hub(s.dataDir, s.pty.path, "never");
    await waitFor(() => hub.ready, "the hub ready", 60_000);
    s.modem.on("command", (line: string) => {
      if (/^AT\+CMG[RL]/.test(line)) hub.kill();
    });
    s.modem.inject({ sender: "79007654321", text: "Your code 4711" });
    assert.equal((await hub.exit).signal, "SIGKILL");
    assert.equal(s.modem.storage().length, 1, "still on the SIM");
    const { announced, stored } = await restartAndRead(s);
    assert.deepEqual(announced, ["Your code 4711"]);
    assert.deepEqual(stored, ["Your code 4711"]);
  });
});

describe("the intake's writes are synced", () => {
  it("every batch that carries SMS parts is written with sync: true", async (t) => {
    const h = await startHarness({ emulator: { count: 1 } });
    t.after(() => h.dispose());
    const seen = spyOnBatches(h.store);
    h.modems[0]?.inject({ sender: "79001234567", text: "Your code 4711" });
    await waitFor(() => h.received.length === 1, "the SMS");
    assert.deepEqual(
      seen.filter((batch) => batch.keys.some((key) => key.startsWith("!parts!pdu!"))).map((batch) => batch.sync),
      [true],
    );
  });
});
