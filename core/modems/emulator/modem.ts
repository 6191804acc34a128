/**
 * One emulated GSM modem: its SIM, its radio, the AT session on its serial
 * line, and the network side (injection) plus the faults tests need.
 * No timers run while idle; every timer is tracked and cleared by dispose().
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { encodeDeliver } from "../pdu/index.ts";
import { executeLine } from "./commands.ts";
import { SimStorage, tpduLength } from "./storage.ts";
import type { StoredMessage } from "./storage.ts";

export interface EmulatedModemOptions {
  imei: string;
  imsi: string;
  iccid: string;
  /** Digits with country code, no '+'. */
  msisdn?: string;
  /** Whether AT+CNUM answers the number. */
  cnum?: boolean;
  operator?: string;
  /** Text of the +CUSD answer to any USSD request (e.g. one containing the number). */
  ussdNumberReply?: string;
  ussdDelayMs?: number;
  /** AT+CSQ rssi, 0..31 or 99. */
  signal?: number;
  /** +CREG stat: 0 not registered, 1 home, 2 searching, 3 denied, 5 roaming. */
  registered?: number;
  pinRequired?: boolean;
  pin?: string;
  storageSize?: number;
  echo?: boolean;
  smsc?: string;
  radioOnDelayMs?: number;
  /** Power-up +CNMI: mode, mt, bm, ds, bfr. */
  cnmi?: readonly number[];
}

export interface InjectOptions {
  sender: string;
  text: string;
  encoding?: "auto" | "gsm7" | "ucs2";
  timestamp?: Date;
  utcOffsetMinutes?: number;
  ref?: number;
  refBits?: 8 | 16;
  /** Delivery order by 1-based part number, e.g. [2, 1]. */
  order?: number[];
  /** Part numbers (1-based) that are never delivered. */
  drop?: number[];
  /** Store without the +CMTI indication. */
  lostCmti?: boolean;
}

/** The serial side a modem talks to (the binding's port, or a pty). */
export interface ModemLink {
  data(chunk: Buffer): void;
  /** The device went away (unplug): the link must fail its reads and writes. */
  disconnect(error: Error): void;
}

export interface ModemCounters {
  /** Command lines received. */
  commands: number;
  /** Per command name: "+CMGD", "+CMGR", "Z", "E", ... */
  byCommand: Record<string, number>;
  stored: number;
  deleted: number;
  urcs: number;
  rejectedFull: number;
}

/** AT session settings: reset by ATZ, AT&F, AT+CFUN=1,1 and a power-up. */
export interface Session {
  echo: boolean;
  cmee: number;
  cmgf: number;
  cnmi: number[];
  cregMode: number;
  cscs: string;
}

interface NetworkPart {
  pdu: string;
  lostCmti: boolean;
}

const DEFAULT_CNMI = [2, 1, 0, 0, 0];

export class EmulatedModem extends EventEmitter {
  readonly options: Readonly<EmulatedModemOptions>;
  readonly sim: SimStorage;
  readonly counters: ModemCounters = { commands: 0, byCommand: {}, stored: 0, deleted: 0, urcs: 0, rejectedFull: 0 };
  session!: Session;
  simLocked: boolean;
  /** 1 = full functionality, 0/4 = radio off. */
  cfun = 1;
  signal: number;
  private regStat: number;
  private searching = false;
  private reportedStat = -1;
  private storageForcedFull = false;
  private memFullSignalled = false;
  private plugged = true;
  private hung = false;
  private slowMs = 0;
  private link: ModemLink | undefined;
  private lineBuffer = "";
  private readonly queue: string[] = [];
  private busy = false;
  private readonly network: NetworkPart[] = [];
  private readonly bufferedUrcs: string[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private deferred: (() => void)[] = [];

  constructor(options: EmulatedModemOptions) {
    super();
    this.options = { ...options };
    this.sim = new SimStorage(options.storageSize ?? 30);
    this.signal = options.signal ?? 20;
    this.regStat = options.registered ?? 1;
    this.simLocked = options.pinRequired ?? false;
    this.resetSession();
    this.reportedStat = this.registrationStat();
  }

  // ---- serial side -------------------------------------------------------

  get isPlugged(): boolean {
    return this.plugged;
  }

  get isAttached(): boolean {
    return this.link !== undefined;
  }

  /** Connects the serial side (called by the binding when a port opens). */
  attach(link: ModemLink): void {
    if (this.link) throw new Error("modem is already attached to a port");
    this.link = link;
    this.lineBuffer = "";
    this.emit("open");
  }

  detach(link: ModemLink): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.queue.length = 0;
    this.emit("close");
  }

  /** Bytes written by the host. */
  receive(chunk: Buffer): void {
    if (this.hung || !this.plugged) return;
    if (this.session.echo) this.send(chunk);
    const text = chunk.toString("latin1");
    for (const char of text) {
      if (char === "\r") {
        const line = this.lineBuffer.trim();
        this.lineBuffer = "";
        if (/^at/i.test(line)) this.queue.push(line);
      } else if (char === "\n") {
        continue;
      } else if (char === "\b") {
        this.lineBuffer = this.lineBuffer.slice(0, -1);
      } else if (char === "\u001b") {
        this.lineBuffer = "";
      } else if (this.lineBuffer.length < 4096) {
        this.lineBuffer += char;
      }
    }
    this.processQueue();
  }

  private send(bytes: Buffer | string): void {
    if (!this.link || this.hung || !this.plugged) return;
    this.link.data(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes));
  }

  private processQueue(): void {
    while (!this.busy && this.queue.length > 0) {
      const line = this.queue.shift() ?? "";
      this.counters.commands++;
      this.emit("command", line);
      const response = executeLine(this, line);
      if (this.slowMs > 0) {
        this.busy = true;
        this.later(this.slowMs, () => {
          this.busy = false;
          this.reply(response);
          this.processQueue();
        });
        return;
      }
      this.reply(response);
    }
  }

  private reply(response: string): void {
    this.send(response);
    const actions = this.deferred;
    this.deferred = [];
    for (const action of actions) action();
  }

  /** Runs `action` after the current command's reply has been sent. */
  afterReply(action: () => void): void {
    this.deferred.push(action);
  }

  /** A tracked timer (cleared by dispose and unplug). */
  later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  countCommand(name: string): void {
    this.counters.byCommand[name] = (this.counters.byCommand[name] ?? 0) + 1;
  }

  /** Sends an unsolicited result code. */
  urc(line: string): void {
    this.counters.urcs++;
    this.emit("urc", line);
    this.send(`\r\n${line}\r\n`);
  }

  resetSession(): void {
    const cnmi = [...(this.options.cnmi ?? DEFAULT_CNMI)];
    this.session = { echo: this.options.echo ?? true, cmee: 0, cmgf: 0, cnmi, cregMode: 0, cscs: "GSM" };
  }

  // ---- radio and registration -------------------------------------------

  /** The +CREG stat the modem reports now. */
  registrationStat(): number {
    if (!this.plugged || this.cfun !== 1 || this.simLocked) return 0;
    if (this.searching) return 2;
    return this.regStat;
  }

  get isRegistered(): boolean {
    const stat = this.registrationStat();
    return stat === 1 || stat === 5;
  }

  /** Reports a registration change (+CREG URC when enabled) and delivers waiting messages. */
  registrationChanged(): void {
    const stat = this.registrationStat();
    if (stat !== this.reportedStat) {
      this.reportedStat = stat;
      if (this.session.cregMode === 1) this.urc(`+CREG: ${stat}`);
      if (this.session.cregMode === 2) this.urc(stat === 1 || stat === 5 ? `+CREG: ${stat},"00A1","1B2C"` : `+CREG: ${stat}`);
    }
    this.deliverWaiting();
  }

  /** Radio on after power-up or AT+CFUN=1: searching for radioOnDelayMs, then registered. */
  radioOn(): void {
    this.cfun = 1;
    this.searching = true;
    this.registrationChanged();
    this.later(this.options.radioOnDelayMs ?? 100, () => {
      this.searching = false;
      this.registrationChanged();
    });
  }

  unlockSim(): void {
    this.simLocked = false;
    this.registrationChanged();
  }

  setRegistered(stat: number): void {
    this.regStat = stat;
    this.registrationChanged();
  }

  setSignal(rssi: number): void {
    this.signal = rssi;
  }

  // ---- network side -------------------------------------------------------

  /** Delivers a message from the network; returns the slots stored now, in delivery order. */
  inject(options: InjectOptions): number[] {
    const pdus = encodeDeliver({
      sender: options.sender,
      text: options.text,
      encoding: options.encoding ?? "auto",
      timestamp: options.timestamp ?? new Date(),
      utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
      refBits: options.refBits ?? 8,
      smsc: this.options.smsc ?? "79000000000",
      ...(options.ref === undefined ? {} : { ref: options.ref }),
    });
    const order = options.order ?? pdus.map((_, index) => index + 1);
    const dropped = new Set(options.drop ?? []);
    const parts: NetworkPart[] = [];
    for (const seq of order) {
      const pdu = pdus[seq - 1];
      if (pdu === undefined) throw new RangeError(`part ${seq} does not exist; the message has ${pdus.length} parts`);
      if (!dropped.has(seq)) parts.push({ pdu, lostCmti: options.lostCmti ?? false });
    }
    return this.enqueue(parts);
  }

  /** Delivers one ready-made PDU (hex with SMSC info). */
  injectPdu(pdu: string, options: { lostCmti?: boolean } = {}): number[] {
    return this.enqueue([{ pdu: pdu.toUpperCase(), lostCmti: options.lostCmti ?? false }]);
  }

  private enqueue(parts: NetworkPart[]): number[] {
    const slots: number[] = [];
    const mine = new Set(parts);
    this.network.push(...parts);
    this.deliverWaiting((part, slot) => {
      if (mine.has(part)) slots.push(slot);
    });
    return slots;
  }

  /** Parts waiting at the network (unregistered, radio off, SIM locked or storage full). */
  pendingAtNetwork(): number {
    return this.network.length;
  }

  private storageFull(): boolean {
    return this.storageForcedFull || this.sim.full;
  }

  private deliverWaiting(onStored?: (part: NetworkPart, slot: number) => void): void {
    while (this.network.length > 0 && this.isRegistered) {
      const part = this.network[0] as NetworkPart;
      const mt = this.session.cnmi[1] ?? 0;
      if (mt === 2) {
        // Routed straight to the TE, never stored: lost if nobody listens.
        this.network.shift();
        this.indicate(`+CMT: ,${tpduLength(part.pdu)}\r\n${part.pdu}`);
        continue;
      }
      if (this.storageFull()) {
        this.counters.rejectedFull++;
        if (!this.memFullSignalled) {
          this.memFullSignalled = true;
          this.urc('^SMMEMFULL: "SM"');
        }
        return;
      }
      this.network.shift();
      const slot = this.sim.store(part.pdu) as number;
      this.counters.stored++;
      this.emit("stored", slot, part.pdu);
      onStored?.(part, slot);
      if ((mt === 1 || mt === 3) && !part.lostCmti) this.indicate(`+CMTI: "SM",${slot}`);
    }
  }

  /** A new-message indication, buffered while +CNMI mode is 0. */
  private indicate(line: string): void {
    if (this.session.cnmi[0] === 0) {
      if (this.bufferedUrcs.length < 16) this.bufferedUrcs.push(line);
      return;
    }
    this.urc(line);
  }

  /** AT+CNMI with mode 1/2: bfr 0 flushes buffered indications, 1 clears them. */
  cnmiChanged(): void {
    if (this.session.cnmi[0] === 0) return;
    const buffered = this.bufferedUrcs.splice(0);
    if ((this.session.cnmi[4] ?? 0) === 0) this.afterReply(() => buffered.forEach((line) => this.urc(line)));
    this.afterReply(() => this.deliverWaiting());
  }

  /** A slot was freed: a part rejected for lack of space may come in now. */
  slotFreed(index: number): void {
    this.counters.deleted++;
    this.emit("deleted", index);
    if (!this.storageFull()) this.memFullSignalled = false;
    this.afterReply(() => this.deliverWaiting());
  }

  // ---- inspection and faults ----------------------------------------------

  storage(): StoredMessage[] {
    return this.sim.list();
  }

  hang(): void {
    this.hung = true;
    this.queue.length = 0;
    this.lineBuffer = "";
  }

  unhang(): void {
    this.hung = false;
    this.deliverWaiting();
  }

  slow(ms: number): void {
    this.slowMs = Math.max(0, ms);
  }

  /** Line noise now: random bytes and CRLF, or exactly the bytes given. */
  garbage(bytes?: Buffer | string | number): void {
    if (bytes === undefined || typeof bytes === "number") {
      const noise = randomBytes(typeof bytes === "number" ? bytes : 1 + Math.floor(Math.random() * 32));
      this.send(Buffer.concat([noise, Buffer.from("\r\n")]));
      return;
    }
    this.send(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  setStorageFull(full: boolean): void {
    this.storageForcedFull = full;
    if (!full) {
      if (!this.storageFull()) this.memFullSignalled = false;
      this.deliverWaiting();
    }
  }

  /** The USB device goes away: the open port fails, opens fail until replug(). */
  unplug(): void {
    if (!this.plugged) return;
    this.plugged = false;
    this.clearTimers();
    this.queue.length = 0;
    this.busy = false;
    this.searching = false;
    this.reportedStat = 0;
    const link = this.link;
    this.link = undefined;
    if (link) {
      const error = Object.assign(new Error("Input/output error: device disconnected"), { code: "EIO" });
      link.disconnect(error);
      this.emit("close");
    }
  }

  /** The device comes back: a power-up (settings reset, SIM relocked if it has a PIN, storage kept). */
  replug(): void {
    if (this.plugged) return;
    this.plugged = true;
    this.hung = false;
    this.slowMs = 0;
    this.simLocked = this.options.pinRequired ?? false;
    this.resetSession();
    this.radioOn();
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Clears pending timers; the modem stays usable but forgets scheduled replies. */
  dispose(): void {
    this.clearTimers();
    this.busy = false;
    this.searching = false;
  }
}
