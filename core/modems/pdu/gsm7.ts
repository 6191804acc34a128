/**
 * The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038
 * §6.2.1), and septet packing (TS 23.038 §6.1.2.1.1).
 */
import { PduError } from "./errors.ts";

const ESC = 0x1b;

/** Index = septet value. 0x1B is the escape to the extension table. */
const DEFAULT_TABLE: readonly string[] = [
  "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
  "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "\u001b", "Æ", "æ", "ß", "É",
  " ", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
  "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
  "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
  "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
  "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
  "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
];

/** Extension table: septet after ESC → character. */
const EXTENSION_TABLE: ReadonlyMap<number, string> = new Map([
  [0x0a, "\f"], [0x14, "^"], [0x28, "{"], [0x29, "}"], [0x2f, "\\"],
  [0x3c, "["], [0x3d, "~"], [0x3e, "]"], [0x40, "|"], [0x65, "€"],
]);

/** Character → its septets ([s] from the default table, [ESC, s] from the extension table), built once: no array per character. */
const REVERSE = new Map<string, readonly number[]>();
DEFAULT_TABLE.forEach((char, septet) => {
  if (septet !== ESC) REVERSE.set(char, Object.freeze([septet]));
});
for (const [septet, char] of EXTENSION_TABLE) REVERSE.set(char, Object.freeze([ESC, septet]));

/** Septets for one character: [s] from the default table, [ESC, s] from the extension table; undefined if neither. */
export function charToSeptets(char: string): readonly number[] | undefined {
  return REVERSE.get(char);
}

/** True if every character of `text` is in the default or the extension table. */
export function fitsGsm7(text: string): boolean {
  for (const char of text) {
    if (charToSeptets(char) === undefined) return false;
  }
  return true;
}

/** Text → septet values. Throws PduError on a character outside both tables. */
export function textToSeptets(text: string): number[] {
  const septets: number[] = [];
  for (const char of text) {
    const encoded = charToSeptets(char);
    if (encoded === undefined) {
      throw new PduError(`character U+${char.codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")} is not in the GSM 7-bit alphabet`);
    }
    for (const septet of encoded) septets.push(septet);
  }
  return septets;
}

/**
 * Septet values → text. An escape followed by a value missing from the
 * extension table shows the default-table character (TS 23.038 §6.2.1.1);
 * a trailing lone escape is dropped.
 */
export function septetsToText(septets: readonly number[]): string {
  let text = "";
  for (let i = 0; i < septets.length; i++) {
    const septet = septets[i] ?? 0;
    if (septet === ESC) {
      const next = septets[i + 1];
      if (next === undefined) break;
      i++;
      text += EXTENSION_TABLE.get(next) ?? (next === ESC ? " " : DEFAULT_TABLE[next] ?? "");
      continue;
    }
    text += DEFAULT_TABLE[septet] ?? "";
  }
  return text;
}

/**
 * Reads `count` septets from `bytes`, the first starting at bit `startBit`
 * (LSB first, as TS 23.038 packs them). Throws PduError if the bytes end first.
 */
export function unpackSeptets(bytes: Uint8Array, startBit: number, count: number): number[] {
  const septets: number[] = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const bit = startBit + i * 7;
    const index = bit >> 3;
    const shift = bit & 7;
    const low = bytes[index];
    if (low === undefined) throw new PduError(`user data ends before septet ${i + 1} of ${count}`);
    let value = low >> shift;
    if (shift > 1) {
      const high = bytes[index + 1];
      if (high === undefined) throw new PduError(`user data ends before septet ${i + 1} of ${count}`);
      value |= high << (8 - shift);
    }
    septets[i] = value & 0x7f;
  }
  return septets;
}

/** Writes `septets` into `bytes` from bit `startBit`; `bytes` must be large enough. */
export function packSeptetsInto(bytes: Uint8Array, startBit: number, septets: readonly number[]): void {
  for (let i = 0; i < septets.length; i++) {
    const value = (septets[i] ?? 0) & 0x7f;
    const bit = startBit + i * 7;
    const index = bit >> 3;
    const shift = bit & 7;
    bytes[index] = (bytes[index] ?? 0) | ((value << shift) & 0xff);
    if (shift > 1) bytes[index + 1] = (bytes[index + 1] ?? 0) | (value >> (8 - shift));
  }
}

/** Packs septets into the minimum number of octets (alphanumeric addresses, USSD). */
export function packSeptets(septets: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(Math.ceil((septets.length * 7) / 8));
  packSeptetsInto(bytes, 0, septets);
  return bytes;
}
