/**
 * Parts of concatenated messages waiting for their siblings, and the
 * operations of one `PartStore.acceptMany` before they are written.
 *
 * A sender may reuse a reference and part count while an earlier message
 * with them is still incomplete, so a group (ICCID + sender + reference +
 * part count) can hold two parts with the same sequence number. Its members
 * are dealt out in arrival order into generations, each taking the first
 * part of every number it lacks: the first generation to hold every number
 * is the message, and only its parts leave the group.
 */
import type { BatchOp, Sublevel } from "../store/store.ts";

export interface GroupPart {
  fp: string;
  seq: number;
  total: number;
  sender: string;
  text: string;
  scts: string;
  receivedAt: number;
  imei?: string;
  msisdn?: string;
}

export interface GroupMember {
  key: string;
  part: GroupPart;
  /** Index of its put in the pending batch (a member added by this batch). */
  op?: number;
}

/** Members dealt into generations: arrival order, each generation taking one part per sequence number. */
export function generations<T extends { part: GroupPart }>(members: readonly T[]): T[][] {
  const result: { seqs: Set<number>; members: T[] }[] = [];
  const ordered = members.map((member, at) => ({ member, at })).sort((a, b) => a.member.part.receivedAt - b.member.part.receivedAt || a.at - b.at);
  for (const { member } of ordered) {
    let generation = result.find((g) => !g.seqs.has(member.part.seq));
    if (!generation) {
      generation = { seqs: new Set(), members: [] };
      result.push(generation);
    }
    generation.seqs.add(member.part.seq);
    generation.members.push(member);
  }
  return result.map((g) => g.members);
}

/**
 * The operations of one accept before they are written, with the multipart
 * groups it touched: members already on disk plus the parts this batch
 * adds, so that two parts of one message read together are joined without
 * an intermediate write.
 */
export class PendingBatch {
  readonly #sublevel: Sublevel<unknown>;
  readonly #ops: (BatchOp | undefined)[] = [];
  readonly #groups = new Map<string, GroupMember[]>();

  constructor(sublevel: Sublevel<unknown>) {
    this.#sublevel = sublevel;
  }

  put(key: string, value: unknown): number {
    return this.#ops.push({ type: "put", sublevel: this.#sublevel, key, value }) - 1;
  }

  add(ops: readonly BatchOp[]): void {
    this.#ops.push(...ops);
  }

  /** A group's members: on disk (loaded once per batch) and added by this batch. */
  async group(prefix: string, load: () => Promise<GroupMember[]>): Promise<readonly GroupMember[]> {
    let members = this.#groups.get(prefix);
    if (!members) {
      members = await load();
      this.#groups.set(prefix, members);
    }
    return members;
  }

  /** A part waits for its siblings (the group was loaded by `group`). */
  joinGroup(prefix: string, key: string, part: GroupPart): void {
    this.#groups.get(prefix)?.push({ key, part, op: this.put(key, part) });
  }

  /** These members became (part of) a whole message: on disk they are deleted, of this batch never written. */
  retire(prefix: string, retired: readonly GroupMember[]): void {
    const members = this.#groups.get(prefix) ?? [];
    for (const member of retired) {
      const at = members.indexOf(member);
      if (at < 0) continue;
      members.splice(at, 1);
      if (member.op === undefined) this.#ops.push({ type: "del", sublevel: this.#sublevel, key: member.key });
      else this.#ops[member.op] = undefined;
    }
  }

  ops(): BatchOp[] {
    return this.#ops.filter((op): op is BatchOp => op !== undefined);
  }
}
