import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import { MessageRepository } from "../store/messages.ts";
import type { BatchOp, Store, Sublevel } from "../store/store.ts";
import type { SmsMessage } from "../types.ts";
import { generations, PendingBatch, type GroupMember, type GroupPart } from "./groups.ts";
import { decodeDeliver, type DecodedPdu } from "./pdu/index.ts";

/**
 * The durable half of the intake: raw parts, multipart joining and duplicate
 * detection, all in the `parts` sublevel, never in memory.
 *
 * Keys (`!` separated; `<sender>` is URI-encoded):
 * - `pdu!<iccid>!<fp>`: every accepted part, raw, by its slot-independent
 *   fingerprint (sha256 of the PDU). Its presence is what makes a re-read
 *   after a crash between persist and `AT+CMGD` a duplicate. Pruned with the
 *   store's retention.
 * - `group!<iccid>!<sender>!<refBits>:<ref>!<total>!<seq>!<fp16>`: a part of a
 *   concatenated message waiting for its siblings; deleted in the batch that
 *   writes the whole message it becomes part of (`groups.ts`).
 * - `quarantine!<iccid>!<fp>`: a PDU that could not be decoded (or a line
 *   read where a PDU should be that does not match the header), kept raw.
 */

export interface PartInput {
  iccid: string;
  imei?: string;
  msisdn?: string;
  /** Storage slot it was read from (diagnostics only; never part of a key). */
  slot?: number;
  /** PDU hex as the modem printed it, SMSC prefix included. */
  raw: string;
  /** Why the line read is not trusted as a PDU (not decoded, quarantined raw). */
  suspect?: string;
}

interface PduRecord {
  raw: string;
  receivedAt: number;
  slot?: number;
  messageId?: string;
}

interface QuarantineRecord {
  raw: string;
  at: number;
  slot?: number;
  reason: string;
}

export type AcceptOutcome =
  | { kind: "duplicate"; fp: string }
  | { kind: "quarantined"; fp: string; reason: string }
  | { kind: "part"; fp: string; have: number; total: number }
  | { kind: "message"; fp: string; message: SmsMessage };

export function pduFingerprint(raw: string): string {
  return createHash("sha256").update(raw.trim().toUpperCase()).digest("hex").slice(0, 32);
}

function messageFingerprint(iccid: string, partFps: readonly string[]): string {
  return createHash("sha256")
    .update(`${iccid}|${[...partFps].sort().join("|")}`)
    .digest("hex");
}

const senderKey = (sender: string): string => encodeURIComponent(sender).replace(/!/g, "%21");

export class PartStore {
  readonly parts: Sublevel<unknown>;
  readonly messages: MessageRepository;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #writes: { ops: BatchOp[]; resolve(): void; reject(error: unknown): void }[] = [];
  #flushing = false;

  constructor(store: Store, log: Logger) {
    this.#store = store;
    this.#log = log;
    this.parts = store.sub("parts");
    this.messages = new MessageRepository(store);
  }

  /**
   * Group commit: the operations of every accept that is ready at the same
   * moment (typically many modems after a burst) go to disk in one synced,
   * atomic batch, so one fsync serves them all. Each caller resolves only
   * once its own operations are on disk.
   */
  #write(ops: BatchOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#writes.push({ ops, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#writes.length > 0) {
        await new Promise((resolve) => setImmediate(resolve)); // let writers of this turn join
        const group = this.#writes.splice(0);
        try {
          await this.#store.batch(group.flatMap((w) => w.ops));
          for (const w of group) w.resolve();
        } catch (error) {
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Runs `fn` after every earlier call for the same SIM has finished. */
  exclusive<T>(iccid: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(iccid) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#locks.set(iccid, tail);
    void tail.then(() => {
      if (this.#locks.get(iccid) === tail) this.#locks.delete(iccid);
    });
    return next;
  }

  /**
   * Persists one part read from a SIM (synced) and, when it completes a
   * message, the message itself in the same batch. When this resolves, the
   * slot may be deleted on the SIM: whatever it held is on disk.
   */
  async accept(input: PartInput, now = Date.now()): Promise<AcceptOutcome> {
    const [outcome] = await this.acceptMany(input.iccid, [input], now);
    return outcome as AcceptOutcome;
  }

  /**
   * Persists every part read from one SIM in a single synced batch (which may
   * also carry other modems' writes of the same turn): duplicates recognised
   * against the store and within the batch, concatenated parts joined with
   * their siblings on disk and in the batch, whole messages written with the
   * parts they retire. When this resolves, every slot the parts came from may
   * be deleted on the SIM. Outcomes are in the order of `inputs`.
   */
  acceptMany(iccid: string, inputs: readonly Omit<PartInput, "iccid">[], now = Date.now()): Promise<AcceptOutcome[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return this.exclusive(iccid, () => this.#acceptMany(iccid, inputs, now));
  }

  async #acceptMany(iccid: string, inputs: readonly Omit<PartInput, "iccid">[], now: number): Promise<AcceptOutcome[]> {
    const raws = inputs.map((input) => input.raw.trim().toUpperCase());
    const fps = raws.map(pduFingerprint);
    const keys: string[] = [];
    for (const fp of fps) keys.push(`pdu!${iccid}!${fp}`, `quarantine!${iccid}!${fp}`);
    const seen = await this.parts.getMany(keys);
    const batch = new PendingBatch(this.parts);
    const outcomes: AcceptOutcome[] = [];
    const quarantined: { slot: number | undefined; fp: string; reason: string }[] = [];
    const taken = new Set<string>();

    for (let i = 0; i < inputs.length; i++) {
      const input = { ...(inputs[i] as Omit<PartInput, "iccid">), iccid };
      const raw = raws[i] as string;
      const fp = fps[i] as string;
      if (seen[2 * i] !== undefined || seen[2 * i + 1] !== undefined || taken.has(fp)) {
        outcomes.push({ kind: "duplicate", fp });
        continue;
      }
      taken.add(fp);
      const pduKey = `pdu!${iccid}!${fp}`;
      const slot = input.slot === undefined ? {} : { slot: input.slot };

      let decoded: DecodedPdu;
      try {
        if (input.suspect !== undefined) throw new Error(input.suspect);
        decoded = decodeDeliver(raw);
      } catch (error) {
        const reason = (error as Error).message;
        const record: QuarantineRecord = { raw, at: now, reason, ...slot };
        batch.put(`quarantine!${iccid}!${fp}`, record);
        quarantined.push({ slot: input.slot, fp, reason });
        outcomes.push({ kind: "quarantined", fp, reason });
        continue;
      }

      const pduRecord: PduRecord = { raw, receivedAt: now, ...slot };
      const udh = decoded.udh;
      if (!udh || udh.total <= 1) {
        const message = this.#message(input, [{ fp, seq: 1, total: 1, sender: decoded.sender, text: decoded.text, scts: decoded.scts, receivedAt: now }], true, now);
        pduRecord.messageId = message.messageId;
        batch.put(pduKey, pduRecord);
        batch.add(this.messages.addOps(message));
        outcomes.push({ kind: "message", fp, message });
        continue;
      }

      const groupPrefix = `group!${iccid}!${senderKey(decoded.sender)}!${udh.refBits}:${udh.ref}!${udh.total}!`;
      const part: GroupPart = {
        fp,
        seq: udh.seq,
        total: udh.total,
        sender: decoded.sender,
        text: decoded.text,
        scts: decoded.scts,
        receivedAt: now,
        ...(input.imei ? { imei: input.imei } : {}),
        ...(input.msisdn ? { msisdn: input.msisdn } : {}),
      };
      const key = `${groupPrefix}${String(udh.seq).padStart(3, "0")}!${fp.slice(0, 16)}`;
      const arriving: GroupMember = { key, part };
      const members = await batch.group(groupPrefix, () => this.#group(groupPrefix));
      const mine = generations([...members, arriving]).find((generation) => generation.includes(arriving)) ?? [arriving];
      if (mine.length < udh.total) {
        batch.put(pduKey, pduRecord);
        batch.joinGroup(groupPrefix, key, part);
        outcomes.push({ kind: "part", fp, have: mine.length, total: udh.total });
        continue;
      }
      // only the parts this message is made of leave the group: a second part with a
      // number already present (the sender reused ref and total) waits for its own message
      const message = this.#message(input, mine.map((m) => m.part), true, now);
      pduRecord.messageId = message.messageId;
      batch.put(pduKey, pduRecord);
      batch.retire(groupPrefix, mine);
      batch.add(this.messages.addOps(message));
      outcomes.push({ kind: "message", fp, message });
    }

    const ops = batch.ops();
    if (ops.length > 0) await this.#write(ops);
    for (const q of quarantined) this.#log.warn({ iccid, slot: q.slot, fp: q.fp, reason: q.reason }, "undecodable PDU quarantined");
    return outcomes;
  }

  async #group(prefix: string): Promise<GroupMember[]> {
    const result: GroupMember[] = [];
    for await (const [key, value] of this.parts.iterator({ gte: prefix, lt: `${prefix}\xff` })) {
      result.push({ key, part: value as GroupPart });
    }
    return result;
  }

  /** Joins the parts of one message (one per sequence number, see `generations`) in order. */
  #message(input: Omit<PartInput, "raw">, parts: readonly GroupPart[], complete: boolean, now: number): SmsMessage {
    const ordered = [...parts].sort((a, b) => a.seq - b.seq);
    const first = ordered[0];
    const fingerprint = messageFingerprint(input.iccid, parts.map((p) => p.fp));
    const imei = input.imei ?? first?.imei;
    const msisdn = input.msisdn ?? first?.msisdn;
    return {
      messageId: MessageRepository.messageId(now, fingerprint),
      fingerprint,
      iccid: input.iccid,
      ...(msisdn ? { msisdn } : {}),
      ...(imei ? { imei } : {}),
      sender: first?.sender ?? "",
      text: ordered.map((p) => p.text).join(""),
      ...(first?.scts ? { sentAt: first.scts } : {}),
      receivedAt: now,
      parts: ordered.length,
      complete,
    };
  }

  /**
   * Releases, marked `complete: false`, every concatenated message whose
   * oldest waiting part is older than `timeoutMs`, unless `mayRelease(iccid)`
   * says no. Resolves with the messages written (the caller announces them).
   */
  async releaseExpired(timeoutMs: number, now = Date.now(), mayRelease: (iccid: string) => boolean = () => true): Promise<SmsMessage[]> {
    const groups = new Map<string, { iccid: string; oldest: number }>();
    for await (const [key, value] of this.parts.iterator({ gte: "group!", lt: "group!\xff" })) {
      const fields = key.split("!");
      const prefix = `${fields.slice(0, 5).join("!")}!`;
      const receivedAt = (value as GroupPart).receivedAt;
      const group = groups.get(prefix);
      if (!group) groups.set(prefix, { iccid: fields[1] ?? "", oldest: receivedAt });
      else group.oldest = Math.min(group.oldest, receivedAt);
    }
    const released: SmsMessage[] = [];
    for (const [prefix, { iccid, oldest }] of groups) {
      if (now - oldest < timeoutMs || !mayRelease(iccid)) continue;
      const messages = await this.exclusive(iccid, async () => {
        // a reused reference may have left two incomplete messages in one group: each is released once its oldest part is due
        const due = generations(await this.#group(prefix)).filter((generation) => generation.some((m) => now - m.part.receivedAt >= timeoutMs));
        if (due.length === 0) return [];
        const messages = due.map((generation) => this.#message({ iccid }, generation.map((m) => m.part), generation.length === generation[0]?.part.total, now));
        await this.#write([...due.flat().map((m): BatchOp => ({ type: "del", sublevel: this.parts, key: m.key })), ...messages.flatMap((message) => this.messages.addOps(message))]);
        return messages;
      });
      for (const message of messages) {
        this.#log.info({ iccid, messageId: message.messageId, parts: message.parts }, "incomplete concatenated SMS released");
        released.push(message);
      }
    }
    return released;
  }

  /** Retention: drops raw-part records (duplicate detection) and quarantined PDUs older than `cutoff`. */
  async prune(cutoff: number): Promise<number> {
    let removed = 0;
    const ops: BatchOp[] = [];
    for (const range of [
      { gte: "pdu!", lt: "pdu!\xff" },
      { gte: "quarantine!", lt: "quarantine!\xff" },
    ]) {
      for await (const [key, value] of this.parts.iterator(range)) {
        const at = (value as { receivedAt?: number; at?: number }).receivedAt ?? (value as { at?: number }).at ?? 0;
        if (at >= cutoff) continue;
        ops.push({ type: "del", sublevel: this.parts, key });
        removed++;
        if (ops.length >= 500) await this.#store.batch(ops.splice(0));
      }
    }
    await this.#store.batch(ops);
    return removed;
  }
}
