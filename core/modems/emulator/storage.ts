/** The SIM's SMS store ("SM"): numbered slots 1..size holding raw PDUs. */

export type SlotStatus = "unread" | "read";

export interface StoredMessage {
  index: number;
  status: SlotStatus;
  /** Hex PDU with SMSC info, as `+CMGR`/`+CMGL` print it. */
  pdu: string;
}

export class SimStorage {
  private readonly slots: (StoredMessage | undefined)[];

  constructor(readonly size: number) {
    this.slots = new Array<StoredMessage | undefined>(size).fill(undefined);
  }

  get used(): number {
    let used = 0;
    for (const slot of this.slots) if (slot) used++;
    return used;
  }

  get full(): boolean {
    return this.slots.every((slot) => slot !== undefined);
  }

  validIndex(index: number): boolean {
    return Number.isInteger(index) && index >= 1 && index <= this.size;
  }

  /** Stores in the lowest free slot; undefined when full. */
  store(pdu: string): number | undefined {
    const free = this.slots.findIndex((slot) => slot === undefined);
    if (free < 0) return undefined;
    this.slots[free] = { index: free + 1, status: "unread", pdu };
    return free + 1;
  }

  get(index: number): StoredMessage | undefined {
    return this.slots[index - 1];
  }

  delete(index: number): boolean {
    const existed = this.slots[index - 1] !== undefined;
    this.slots[index - 1] = undefined;
    return existed;
  }

  list(): StoredMessage[] {
    return this.slots.filter((slot): slot is StoredMessage => slot !== undefined).map((slot) => ({ ...slot }));
  }

  markRead(index: number): void {
    const slot = this.slots[index - 1];
    if (slot) slot.status = "read";
  }
}
