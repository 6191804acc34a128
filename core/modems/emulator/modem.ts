/**
 * One emulated GSM modem: its SIM, its radio and registration, and the
 * public face of its serial line (`line.ts`) and network side
 * (`network.ts`), plus the faults tests need. No timers run while idle;
 * every timer is tracked and cleared by dispose().
 */
import { EventEmitter } from "node:events";
import { executeLine } from "./commands.ts";
import { SerialLine } from "./line.ts";
import { Network } from "./network.ts";
import { SimStorage } from "./storage.ts";
import type { StoredMessage } from "./storage.ts";
import type { EmulatedModemOptions, InjectOptions, ModemCounters, ModemLink, Session } from "./types.ts";

export type { EmulatedModemOptions, InjectOptions, ModemCounters, ModemLink, Session } from "./types.ts";

const DEFAULT_CNMI = [2, 1, 0, 0, 0];

export class EmulatedModem extends EventEmitter {
  readonly options: Readonly<EmulatedModemOptions>;
  readonly sim: SimStorage;
  readonly counters: ModemCounters = { commands: 0, byCommand: {}, stored: 0, deleted: 0, urcs: 0, rejectedFull: 0, direct: 0, acked: 0, ackTimeouts: 0 };
  session!: Session;
  simLocked: boolean;
  /** 1 = full functionality, 0/4 = radio off. */
  cfun = 1;
  signal: number;
  private regStat: number;
  private searching = false;
  private reportedStat = -1;
  private plugged = true;
  /** How long an open of the port takes (slowOpen). */
  openDelayMs = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly line: SerialLine;
  private readonly network: Network;

  constructor(options: EmulatedModemOptions) {
    super();
    this.options = { ...options };
    this.sim = new SimStorage(options.storageSize ?? 30);
    this.signal = options.signal ?? 20;
    this.regStat = options.registered ?? 1;
    this.simLocked = options.pinRequired ?? false;
    this.resetSession();
    this.reportedStat = this.registrationStat();
    this.line = new SerialLine({
      echo: () => this.session.echo,
      isPlugged: () => this.plugged,
      execute: (line) => {
        this.counters.commands++;
        this.emit("command", line);
        return executeLine(this, line);
      },
      later: (ms, action) => this.later(ms, action),
    });
    this.network = new Network({
      session: () => this.session,
      sim: this.sim,
      counters: this.counters,
      isRegistered: () => this.isRegistered,
      smsc: options.smsc ?? "79000000000",
      options: this.options,
      urc: (line) => this.urc(line),
      afterReply: (action) => this.afterReply(action),
      later: (ms, action) => this.later(ms, action),
      stored: (slot, pdu) => this.emit("stored", slot, pdu),
    });
  }

  // ---- serial side -------------------------------------------------------

  get isPlugged(): boolean {
    return this.plugged;
  }

  get isAttached(): boolean {
    return this.line.isAttached;
  }

  /** Connects the serial side (called by the binding when a port opens). */
  attach(link: ModemLink): void {
    this.line.attach(link);
    this.emit("open");
  }

  detach(link: ModemLink): void {
    if (this.line.detach(link)) this.emit("close");
  }

  /** Bytes written by the host. */
  receive(chunk: Buffer): void {
    this.line.receive(chunk);
  }

  /** Runs `action` after the current command's reply has been sent. */
  afterReply(action: () => void): void {
    this.line.afterReply(action);
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
    this.line.urc(line);
  }

  resetSession(): void {
    const cnmi = [...(this.options.cnmi ?? DEFAULT_CNMI)];
    this.session = { echo: this.options.echo ?? true, cmee: 0, cmgf: 0, cnmi, cregMode: 0, cscs: "GSM", csms: this.options.csms ?? 0 };
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
    this.network.deliverWaiting();
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
    return this.network.inject(options);
  }

  /** Delivers one ready-made PDU (hex with SMSC info). */
  injectPdu(pdu: string, options: { lostCmti?: boolean } = {}): number[] {
    return this.network.injectPdu(pdu, options);
  }

  /** Parts waiting at the network (unregistered, radio off, SIM locked or storage full). */
  pendingAtNetwork(): number {
    return this.network.pending;
  }

  /** AT+CNMI changed the indication settings. */
  cnmiChanged(): void {
    this.network.cnmiChanged();
  }

  /** AT+CNMA: whether a +CMT was waiting for it. */
  acknowledge(): boolean {
    return this.network.acknowledge();
  }

  /** A slot was freed: a part rejected for lack of space may come in now. */
  slotFreed(index: number): void {
    this.counters.deleted++;
    this.emit("deleted", index);
    this.network.slotFreed();
  }

  // ---- inspection and faults ----------------------------------------------

  storage(): StoredMessage[] {
    return this.sim.list();
  }

  hang(): void {
    this.line.hang();
  }

  unhang(): void {
    this.line.unhang();
    this.network.deliverWaiting();
  }

  slow(ms: number): void {
    this.line.slow(ms);
  }

  /** Line noise now: random bytes and CRLF, or exactly the bytes given. */
  garbage(bytes?: Buffer | string | number): void {
    this.line.garbage(bytes);
  }

  /**
   * A line slipped into the next `times` replies, after their first line
   * matching `after` (default: a +CMGR/+CMGL header), as a modem does when
   * it sends an unsolicited line, or noise hits the line, in mid-reply; with
   * `replace`, the line after the match (the PDU after a header) is replaced:
   * a damaged PDU line.
   */
  insertInReply(line: string, options: { after?: RegExp; times?: number; replace?: boolean } = {}): void {
    this.line.insertInReply(line, options.after ?? /^\+CMG[RL]:/, options.times ?? 1, options.replace ?? false);
  }

  /** Opening the port takes `ms` (0 to stop): a slow USB device. */
  slowOpen(ms: number): void {
    this.openDelayMs = Math.max(0, ms);
  }

  setStorageFull(full: boolean): void {
    this.network.setStorageFull(full);
  }

  /** The USB device goes away: the open port fails, opens fail until replug(). */
  unplug(): void {
    if (!this.plugged) return;
    this.plugged = false;
    this.clearTimers();
    this.searching = false;
    this.reportedStat = 0;
    if (this.line.disconnect()) this.emit("close");
  }

  /** The device comes back: a power-up (settings reset, SIM relocked if it has a PIN, storage kept). */
  replug(): void {
    if (this.plugged) return;
    this.plugged = true;
    this.line.reset();
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
    this.line.idle();
    this.searching = false;
  }
}
