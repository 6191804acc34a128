/**
 * Number masks: digit patterns matched against the whole number with country
 * code. `*` is any run of digits (empty too), `?` is exactly one digit, and a
 * mask of plain digits is a prefix (`7908` ≡ `7908*`). A leading `+` is
 * allowed and ignored.
 *
 * Masks are compiled once into a digit trie: prefix masks (plain digits, or
 * digits and one trailing `*`) mark a node; the other masks hang as glob
 * matchers on the node of their literal digits before the first wildcard.
 * Matching walks the number's char codes (no regex), and the answer is
 * remembered per number, so the hook can run for every number × service.
 */

/** The shape a mask must have; the JSON Schema uses it so ajv reports it with the config path. */
export const MASK_PATTERN = "^\\+?[0-9?*]+$";
const MASK_RE = new RegExp(MASK_PATTERN);
export const MASK_MAX_LENGTH = 32;

const CODE_0 = 48;
const CODE_STAR = 42;
const CODE_QUESTION = 63;

/** The reason a mask is invalid, or undefined when it is fine. */
export function maskProblem(mask: unknown): string | undefined {
  if (typeof mask !== "string") return `must be a string of digits, "*" and "?" (got ${mask === null ? "null" : typeof mask})`;
  if (mask.length === 0) return "must not be empty";
  if (mask.length > MASK_MAX_LENGTH) return `must be at most ${MASK_MAX_LENGTH} characters`;
  if (!MASK_RE.test(mask)) {
    const bad = [...mask.replace(/^\+/, "")].find((c) => !/[0-9?*]/.test(c)) ?? "+";
    return `"${mask}" may hold only digits, "*" (any digits) and "?" (one digit), with an optional leading "+"; found ${JSON.stringify(bad)}`;
  }
  return undefined;
}

/**
 * Trie node: `children[d]` for digit d; `terminal` means a prefix mask ends
 * here; `globs` are the wildcard masks whose literal digits before the first
 * wildcard lead here, so a number only meets the globs its prefix allows.
 */
interface TrieNode {
  children: (TrieNode | undefined)[];
  terminal: boolean;
  globs: Glob[] | undefined;
}

function trieNode(): TrieNode {
  return { children: new Array<TrieNode | undefined>(10).fill(undefined), terminal: false, globs: undefined };
}

function nodeAt(root: TrieNode, digits: string): TrieNode {
  let node = root;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - CODE_0;
    let next = node.children[d];
    if (!next) {
      next = trieNode();
      node.children[d] = next;
    }
    node = next;
  }
  return node;
}

/** Results kept per number; the set is immutable, so they stay true until the set is replaced. */
const MEMO_LIMIT = 100_000;

/** A glob kept as char codes: digits, `*` and `?`. */
interface Glob {
  codes: Uint8Array;
  /** Without `*`, a number must have exactly this many digits; with, at least `minLength`. */
  minLength: number;
  hasStar: boolean;
}

/**
 * An immutable, compiled set of masks. `matches` remembers its answer per
 * number (GET_SERVICES asks about the same few hundred numbers every two
 * minutes), so a warm call is one Map lookup.
 */
export class MaskSet {
  readonly masks: readonly string[];
  readonly #root: TrieNode;
  readonly #empty: boolean;
  /** A mask `*` (or `**`...) excludes every number. */
  readonly #all: boolean;
  readonly #memo = new Map<string, boolean>();

  private constructor(masks: readonly string[], root: TrieNode, all: boolean) {
    this.masks = masks;
    this.#root = root;
    this.#empty = masks.length === 0;
    this.#all = all;
  }

  static readonly EMPTY = MaskSet.compile([]);

  /** Compiles masks already checked with `maskProblem`; throws on an invalid one. */
  static compile(masks: readonly string[]): MaskSet {
    const root = trieNode();
    let all = false;
    for (const raw of masks) {
      const problem = maskProblem(raw);
      if (problem) throw new TypeError(`invalid mask: ${problem}`);
      const mask = raw.startsWith("+") ? raw.slice(1) : raw;
      const firstWild = mask.search(/[*?]/);
      const isPrefix = firstWild === -1 || (firstWild === mask.length - 1 && mask.endsWith("*"));
      if (isPrefix) {
        const digits = firstWild === -1 ? mask : mask.slice(0, -1);
        if (digits.length === 0) {
          all = true;
          continue;
        }
        nodeAt(root, digits).terminal = true;
        continue;
      }
      if (/^\*+$/.test(mask)) {
        all = true;
        continue;
      }
      const collapsed = mask.replace(/\*+/g, "*");
      const codes = Uint8Array.from(collapsed, (c) => c.charCodeAt(0));
      let minLength = 0;
      for (const code of codes) if (code !== CODE_STAR) minLength++;
      const node = nodeAt(root, mask.slice(0, firstWild));
      (node.globs ??= []).push({ codes, minLength, hasStar: collapsed.includes("*") });
    }
    return new MaskSet([...masks], root, all);
  }

  get size(): number {
    return this.masks.length;
  }

  /** True when `msisdn` (digits with country code) matches any mask. */
  matches(msisdn: string): boolean {
    if (this.#empty) return false;
    if (this.#all) return msisdn.length > 0;
    const known = this.#memo.get(msisdn);
    if (known !== undefined) return known;
    const result = this.#walk(msisdn);
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
    this.#memo.set(msisdn, result);
    return result;
  }

  #walk(msisdn: string): boolean {
    let node: TrieNode | undefined = this.#root;
    if (node.globs !== undefined && anyGlob(node.globs, msisdn)) return true;
    for (let i = 0; i < msisdn.length; i++) {
      node = node.children[msisdn.charCodeAt(i) - CODE_0];
      if (node === undefined) return false;
      if (node.terminal) return true;
      if (node.globs !== undefined && anyGlob(node.globs, msisdn)) return true;
    }
    return false;
  }
}

function anyGlob(globs: readonly Glob[], msisdn: string): boolean {
  for (let g = 0; g < globs.length; g++) if (globMatches(globs[g] as Glob, msisdn)) return true;
  return false;
}

/**
 * Classic single-backtrack glob match (`*` any run, `?` one digit), anchored
 * at both ends; linear in practice for masks of a few stars.
 */
function globMatches(glob: Glob, text: string): boolean {
  const length = text.length;
  if (glob.hasStar ? length < glob.minLength : length !== glob.minLength) return false;
  const codes = glob.codes;
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < length) {
    const code = p < codes.length ? (codes[p] as number) : -1;
    const ch = text.charCodeAt(t);
    if (code === CODE_STAR) {
      starP = p++;
      starT = t;
    } else if (code === ch || (code === CODE_QUESTION && ch >= CODE_0 && ch <= CODE_0 + 9)) {
      p++;
      t++;
    } else if (starP !== -1) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < codes.length && codes[p] === CODE_STAR) p++;
  return p === codes.length;
}
