import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { createActivations } from "../../../core/activations/index.ts";
import type { ActivationsConfig, ActivationsService } from "../../../core/activations/types.ts";
import { EventBus, type HubEventName, type HubEvents } from "../../../core/bus.ts";
import { createHooks, type Hooks } from "../../../core/hooks.ts";
import { silentLogger, type Logger } from "../../../core/log.ts";
import { MessageRepository } from "../../../core/store/messages.ts";
import { Store } from "../../../core/store/store.ts";
import type { NumberInfo, NumbersView, SmsMessage } from "../../../core/types.ts";
import { waitFor } from "../../helpers/process.ts";

/** A NumbersView over a plain, editable list: the data source the modem layer would be. */
export class ListNumbers implements NumbersView {
  numbers: NumberInfo[];

  constructor(numbers: NumberInfo[]) {
    this.numbers = numbers;
  }

  list(): NumberInfo[] {
    return this.numbers;
  }

  byMsisdn(msisdn: string): NumberInfo | undefined {
    return this.numbers.find((n) => n.msisdn === msisdn);
  }

  remove(msisdn: string): void {
    this.numbers = this.numbers.filter((n) => n.msisdn !== msisdn);
  }
}

export function makeNumbers(count: number, options: { country?: string; operator?: string | ((index: number) => string); base?: number } = {}): NumberInfo[] {
  const base = options.base ?? 79_160_000_000;
  return Array.from({ length: count }, (_, index) => ({
    msisdn: String(base + index),
    iccid: `89701${String(base + index).padStart(15, "0")}`,
    imei: `86${String(base + index).padStart(13, "0")}`,
    country: options.country ?? "russia",
    operator: typeof options.operator === "function" ? options.operator(index) : (options.operator ?? "mts"),
  }));
}

export interface Rig {
  dir: string;
  store: Store;
  bus: EventBus;
  hooks: Hooks;
  numbers: ListNumbers;
  metrics: Registry;
  activations: ActivationsService;
  messages: MessageRepository;
  /** Stops the activations and closes the store, then opens both again on the same directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function makeRig(
  numbers: NumberInfo[],
  config: Partial<ActivationsConfig> = {},
  dir?: string,
  makeRegistry: () => Registry = () => new Registry(),
  log: Logger = silentLogger(),
): Promise<Rig> {
  const directory = dir ?? (await mkdtemp(join(tmpdir(), "simhive-activations-")));
  const rig = {
    dir: directory,
    numbers: new ListNumbers(numbers),
  } as Rig;
  const open = async (): Promise<void> => {
    rig.store = await Store.open(directory, log);
    rig.bus = new EventBus(log);
    rig.hooks = createHooks(log);
    rig.metrics = makeRegistry();
    rig.messages = new MessageRepository(rig.store);
    rig.activations = createActivations({ store: rig.store, bus: rig.bus, log, hooks: rig.hooks, numbers: rig.numbers, metrics: rig.metrics, config });
    await rig.activations.start();
  };
  await open();
  rig.restart = async () => {
    await rig.activations.stop();
    await rig.store.close();
    await open();
  };
  rig.close = async () => {
    await rig.activations.stop();
    await rig.store.close();
    await rm(directory, { recursive: true, force: true });
  };
  return rig;
}

let sequence = 0;

/** A whole message as the intake would store it (pending routing). */
export function makeMessage(number: NumberInfo, text: string, options: { sender?: string; receivedAt?: number } = {}): SmsMessage {
  const receivedAt = options.receivedAt ?? Date.now();
  const fingerprint = `fp${(sequence++).toString(16).padStart(14, "0")}`;
  return {
    messageId: MessageRepository.messageId(receivedAt, fingerprint),
    fingerprint,
    iccid: number.iccid,
    msisdn: number.msisdn,
    imei: number.imei,
    sender: options.sender ?? "Instagram",
    text,
    receivedAt,
    parts: 1,
    complete: true,
  };
}

/** Stores a message as the intake does (message + pending index, one synced batch) and announces it. */
export async function deliverMessage(rig: Rig, message: SmsMessage, announce = true): Promise<void> {
  await rig.store.batch(rig.messages.addOps(message));
  if (announce) rig.bus.emit("sms.received", { message });
}

/** Resolves with the first payload of `event` that `match` accepts. */
export function nextEvent<E extends HubEventName>(bus: EventBus, event: E, match: (payload: HubEvents[E]) => boolean = () => true, timeoutMs = 10_000): Promise<HubEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = bus.on(event, "test", (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Resolves with the first captured log line `match` accepts, once it is written (a hang guard, not a timed assertion). */
export function logLine(lines: readonly Record<string, unknown>[], match: (line: Record<string, unknown>) => boolean, what = "a log line"): Promise<Record<string, unknown>> {
  return waitFor(what, async () => lines.find(match), 10_000);
}

export interface HeldBatches {
  /** Resolves when the first held batch is called. */
  entered: Promise<void>;
  /** Lets the held batches through (and every later one). */
  release(): void;
  /** Puts the store's own batch back (and releases). */
  restore(): void;
}

/**
 * Holds the store's synced batches behind a gate: a write that takes its time,
 * the one fault real parts will not show on demand. With `once`, only the next
 * batch is held and the store's own batch is back for the ones after it.
 */
export function holdBatches(store: Store, options: { once?: boolean } = {}): HeldBatches {
  const target = store as { batch: Store["batch"] };
  const realBatch = store.batch.bind(store);
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let enter = () => {};
  const entered = new Promise<void>((resolve) => (enter = resolve));
  target.batch = async (ops) => {
    if (options.once) target.batch = realBatch;
    enter();
    await gate;
    return realBatch(ops);
  };
  return {
    entered,
    release,
    restore: () => {
      release();
      target.batch = realBatch;
    },
  };
}
