/**
 * The network side of an emulated modem: messages injected by a test wait
 * "at the network" until the modem can take them (registered, radio on, SIM
 * unlocked, a free slot), then are stored and indicated (+CMTI) or routed
 * straight to the host (+CMT), as +CNMI says. In phase 2+ (+CSMS service 1)
 * a +CMT must be acknowledged (AT+CNMA): until then nothing else is routed,
 * and without it the SMS goes back to the network and routing to the host
 * is switched off (mt and ds set to 0, TS 27.005 §3.4.1). Storage full is
 * signalled once (^SMMEMFULL, or +CMS ERROR: 322), and the part waits until
 * a slot frees.
 */
import { encodeDeliver, tpduLength } from "../pdu/index.ts";
import type { SimStorage } from "./storage.ts";
import type { EmulatedModemOptions, InjectOptions, ModemCounters, Session } from "./types.ts";

interface NetworkPart {
  pdu: string;
  lostCmti: boolean;
  flash: boolean;
}

/** What the network side needs from its modem. */
export interface NetworkHost {
  session(): Session;
  readonly sim: SimStorage;
  readonly counters: ModemCounters;
  isRegistered(): boolean;
  readonly smsc: string;
  readonly options: Pick<EmulatedModemOptions, "ackTimeoutMs" | "memFullSignal" | "flashDirect">;
  urc(line: string): void;
  afterReply(action: () => void): void;
  later(ms: number, action: () => void): void;
  stored(slot: number, pdu: string): void;
}

export class Network {
  private readonly parts: NetworkPart[] = [];
  private readonly bufferedUrcs: string[] = [];
  private storageForcedFull = false;
  private memFullSignalled = false;
  /** A +CMT waiting for AT+CNMA (phase 2+); `settled` once acknowledged or timed out. */
  private unacked: { part: NetworkPart; settled: boolean } | undefined;

  constructor(private readonly host: NetworkHost) {}

  /** Delivers a message from the network; returns the slots stored now, in delivery order. */
  inject(options: InjectOptions): number[] {
    const pdus = encodeDeliver({
      sender: options.sender,
      text: options.text,
      encoding: options.encoding ?? "auto",
      timestamp: options.timestamp ?? new Date(),
      utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
      refBits: options.refBits ?? 8,
      smsc: this.host.smsc,
      ...(options.ref === undefined ? {} : { ref: options.ref }),
      ...(options.flash ? { messageClass: 0 as const } : {}),
    });
    const order = options.order ?? pdus.map((_, index) => index + 1);
    const dropped = new Set(options.drop ?? []);
    const parts: NetworkPart[] = [];
    for (const seq of order) {
      const pdu = pdus[seq - 1];
      if (pdu === undefined) throw new RangeError(`part ${seq} does not exist; the message has ${pdus.length} parts`);
      if (!dropped.has(seq)) parts.push({ pdu, lostCmti: options.lostCmti ?? false, flash: options.flash ?? false });
    }
    return this.enqueue(parts);
  }

  /** Delivers one ready-made PDU (hex with SMSC info). */
  injectPdu(pdu: string, options: { lostCmti?: boolean } = {}): number[] {
    return this.enqueue([{ pdu: pdu.toUpperCase(), lostCmti: options.lostCmti ?? false, flash: false }]);
  }

  private enqueue(parts: NetworkPart[]): number[] {
    const slots: number[] = [];
    const mine = new Set(parts);
    this.parts.push(...parts);
    this.deliverWaiting((part, slot) => {
      if (mine.has(part)) slots.push(slot);
    });
    return slots;
  }

  /** Parts waiting at the network (unregistered, radio off, SIM locked or storage full). */
  get pending(): number {
    return this.parts.length;
  }

  private storageFull(): boolean {
    return this.storageForcedFull || this.host.sim.full;
  }

  deliverWaiting(onStored?: (part: NetworkPart, slot: number) => void): void {
    const { sim, counters } = this.host;
    while (this.parts.length > 0 && this.host.isRegistered() && !this.unacked) {
      const part = this.parts[0] as NetworkPart;
      const session = this.host.session();
      const mt = session.cnmi[1] ?? 0;
      if (mt === 2 || (part.flash && this.host.options.flashDirect)) {
        // Routed straight to the TE, never stored: lost if nobody listens.
        this.parts.shift();
        counters.direct++;
        this.indicate(`+CMT: ,${tpduLength(part.pdu)}\r\n${part.pdu}`);
        if (session.csms === 1) this.awaitAck(part);
        continue;
      }
      if (this.storageFull()) {
        counters.rejectedFull++;
        if (!this.memFullSignalled) {
          this.memFullSignalled = true;
          this.host.urc(this.host.options.memFullSignal === "cms322" ? "+CMS ERROR: 322" : '^SMMEMFULL: "SM"');
        }
        return;
      }
      this.parts.shift();
      const slot = sim.store(part.pdu) as number;
      counters.stored++;
      this.host.stored(slot, part.pdu);
      onStored?.(part, slot);
      if ((mt === 1 || mt === 3) && !part.lostCmti) this.indicate(`+CMTI: "SM",${slot}`);
    }
  }

  /** Phase 2+: nothing more is routed until AT+CNMA; without it in time the SMS goes back to the network. */
  private awaitAck(part: NetworkPart): void {
    const unacked = { part, settled: false };
    this.unacked = unacked;
    this.host.later(this.host.options.ackTimeoutMs ?? 5000, () => {
      if (unacked.settled) return;
      unacked.settled = true;
      this.unacked = undefined;
      this.host.counters.ackTimeouts++;
      const { cnmi } = this.host.session();
      cnmi[1] = 0;
      cnmi[3] = 0;
      this.parts.unshift(part);
      this.deliverWaiting();
    });
  }

  /** AT+CNMA: whether a +CMT was waiting for it. */
  acknowledge(): boolean {
    const unacked = this.unacked;
    if (!unacked) return false;
    unacked.settled = true;
    this.unacked = undefined;
    this.host.counters.acked++;
    this.host.afterReply(() => this.deliverWaiting());
    return true;
  }

  /** A new-message indication, buffered while +CNMI mode is 0. */
  private indicate(line: string): void {
    if (this.host.session().cnmi[0] === 0) {
      if (this.bufferedUrcs.length < 16) this.bufferedUrcs.push(line);
      return;
    }
    this.host.urc(line);
  }

  /** AT+CNMI with mode 1/2: bfr 0 flushes buffered indications, 1 clears them. */
  cnmiChanged(): void {
    const session = this.host.session();
    if (session.cnmi[0] === 0) return;
    const buffered = this.bufferedUrcs.splice(0);
    if ((session.cnmi[4] ?? 0) === 0) this.host.afterReply(() => buffered.forEach((line) => this.host.urc(line)));
    this.host.afterReply(() => this.deliverWaiting());
  }

  /** A slot was freed: a part rejected for lack of space may come in now. */
  slotFreed(): void {
    if (!this.storageFull()) this.memFullSignalled = false;
    this.host.afterReply(() => this.deliverWaiting());
  }

  setStorageFull(full: boolean): void {
    this.storageForcedFull = full;
    if (!full) {
      if (!this.storageFull()) this.memFullSignalled = false;
      this.deliverWaiting();
    }
  }
}
