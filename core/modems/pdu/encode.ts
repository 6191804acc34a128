/**
 * SMS-DELIVER encoding (TS 23.040 §9.2.2.1), used by the modem emulator to
 * produce what a network delivers: SMSC info, originator, time stamp, and
 * concatenated parts when the text does not fit one message.
 */
import { PduError } from "./errors.ts";
import { charToSeptets, fitsGsm7, packSeptets, packSeptetsInto, textToSeptets } from "./gsm7.ts";
import type { SenderType } from "./types.ts";

export interface EncodeDeliverOptions {
  /** Digits (an optional leading '+' is dropped) or an alphanumeric name of up to 11 characters. */
  sender: string;
  /** Overrides the type derived from `sender` (digits → international, otherwise alphanumeric). */
  senderType?: SenderType;
  text: string;
  /** auto: GSM 7-bit if every character is in the default or extension table, else UCS2. */
  encoding?: "auto" | "gsm7" | "ucs2";
  /** Service centre time stamp; default now. */
  timestamp?: Date;
  /** Offset of the time stamp's local time from UTC, a multiple of 15 minutes; default 0. */
  utcOffsetMinutes?: number;
  /** SMSC digits; default "79000000000". An empty string writes "00" (no SMSC info). */
  smsc?: string;
  /** Concatenation reference; default a process-wide counter. */
  ref?: number;
  refBits?: 8 | 16;
  pid?: number;
  /** Message class 0..3 (0 = flash) coded in the DCS. */
  messageClass?: 0 | 1 | 2 | 3;
}

const DEFAULT_SMSC = "79000000000";
let nextReference = 1;

function hexOf(bytes: Iterable<number>): string {
  return Buffer.from(Array.from(bytes)).toString("hex").toUpperCase();
}

function semiOctets(digits: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < digits.length; i += 2) {
    const low = Number.parseInt(digits[i] ?? "f", 16);
    const high = i + 1 < digits.length ? Number.parseInt(digits[i + 1] ?? "f", 16) : 0x0f;
    bytes.push((high << 4) | low);
  }
  return bytes;
}

function encodeSmsc(smsc: string): number[] {
  if (smsc === "") return [0];
  const digits = smsc.replace(/^\+/, "");
  if (!/^\d{1,20}$/.test(digits)) throw new PduError(`SMSC "${smsc}" is not a number`);
  const value = semiOctets(digits);
  return [value.length + 1, 0x91, ...value];
}

function encodeOriginator(sender: string, override?: SenderType): number[] {
  const digits = sender.replace(/^\+/, "");
  const type = override ?? (/^\d+$/.test(digits) ? "international" : "alphanumeric");
  if (type === "alphanumeric") {
    if (sender.length === 0 || sender.length > 11) throw new PduError(`alphanumeric sender "${sender}" must be 1..11 characters`);
    const septets = textToSeptets(sender);
    const packed = packSeptets(septets);
    return [Math.ceil((septets.length * 7) / 4), 0xd0, ...packed];
  }
  if (!/^[0-9*#]{1,20}$/.test(digits)) throw new PduError(`sender "${sender}" is not a number`);
  const toa = type === "international" ? 0x91 : type === "national" ? 0xa1 : 0x81;
  const bcd = semiOctets(digits.replace(/\*/g, "a").replace(/#/g, "b"));
  return [digits.length, toa, ...bcd];
}

function swapped(value: number): number {
  return ((value % 10) << 4) | Math.floor(value / 10);
}

function encodeScts(timestamp: Date, utcOffsetMinutes: number): number[] {
  if (!Number.isInteger(utcOffsetMinutes / 15) || Math.abs(utcOffsetMinutes) > 79 * 15) {
    throw new PduError(`time zone offset ${utcOffsetMinutes} min is not a multiple of 15 within ±19:45`);
  }
  if (Number.isNaN(timestamp.getTime())) throw new PduError("time stamp is an invalid date");
  const local = new Date(timestamp.getTime() + utcOffsetMinutes * 60_000);
  const quarters = Math.abs(utcOffsetMinutes) / 15;
  const tz = swapped(quarters) | (utcOffsetMinutes < 0 ? 0x08 : 0);
  return [
    swapped(local.getUTCFullYear() % 100),
    swapped(local.getUTCMonth() + 1),
    swapped(local.getUTCDate()),
    swapped(local.getUTCHours()),
    swapped(local.getUTCMinutes()),
    swapped(local.getUTCSeconds()),
    tz,
  ];
}

/** Splits GSM text into chunks of at most `limit` septets without splitting an escape sequence. */
function splitSeptets(text: string, limit: number): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  for (const char of text) {
    const septets = charToSeptets(char);
    if (septets === undefined) throw new PduError(`character "${char}" is not in the GSM 7-bit alphabet`);
    if (current.length + septets.length > limit) {
      chunks.push(current);
      current = [];
    }
    current.push(...septets);
  }
  chunks.push(current);
  return chunks;
}

/** Splits text into chunks of at most `limit` UTF-16 units without splitting a surrogate pair. */
function splitUnits(text: string, limit: number): string[] {
  const chunks: string[] = [];
  let current = "";
  for (const char of text) {
    if (current.length + char.length > limit) {
      chunks.push(current);
      current = "";
    }
    current += char;
  }
  chunks.push(current);
  return chunks;
}

function ucs2Bytes(text: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes.push(unit >> 8, unit & 0xff);
  }
  return bytes;
}

function concatHeader(ref: number, refBits: 8 | 16, total: number, seq: number): number[] {
  return refBits === 8 ? [5, 0x00, 3, ref, total, seq] : [6, 0x08, 4, ref >> 8, ref & 0xff, total, seq];
}

/** Length of `text` in septets (extension characters count twice); undefined if it does not fit GSM 7-bit. */
export function gsm7Length(text: string): number | undefined {
  let length = 0;
  for (const char of text) {
    const septets = charToSeptets(char);
    if (septets === undefined) return undefined;
    length += septets.length;
  }
  return length;
}

/** Builds the SMS-DELIVER PDU(s) for one message: hex strings with SMSC prefix, one per part. */
export function encodeDeliver(opts: EncodeDeliverOptions): string[] {
  const encoding = opts.encoding === "gsm7" || opts.encoding === "ucs2" ? opts.encoding : fitsGsm7(opts.text) ? "gsm7" : "ucs2";
  const refBits = opts.refBits ?? 8;
  if (refBits !== 8 && refBits !== 16) throw new PduError(`refBits must be 8 or 16, not ${String(refBits)}`);
  const refLimit = refBits === 8 ? 0xff : 0xffff;
  const ref = opts.ref ?? nextReference++ % (refLimit + 1);
  if (!Number.isInteger(ref) || ref < 0 || ref > refLimit) throw new PduError(`reference ${ref} does not fit ${refBits} bits`);

  const prefix = [
    ...encodeSmsc(opts.smsc ?? DEFAULT_SMSC),
  ];
  const originator = encodeOriginator(opts.sender, opts.senderType);
  const scts = encodeScts(opts.timestamp ?? new Date(), opts.utcOffsetMinutes ?? 0);
  const pid = opts.pid ?? 0;
  const classBits = opts.messageClass === undefined ? 0 : 0x10 | opts.messageClass;
  const dcs = (encoding === "ucs2" ? 0x08 : 0x00) | classBits;
  const headerOctets = refBits === 8 ? 6 : 7;

  const build = (userDataLength: number, userData: Uint8Array | number[], withHeader: boolean): string => {
    const firstOctet = 0x04 | (withHeader ? 0x40 : 0); // SMS-DELIVER, TP-MMS: no more messages waiting
    return hexOf([...prefix, firstOctet, ...originator, pid, dcs, ...scts, userDataLength, ...userData]);
  };

  if (encoding === "gsm7") {
    const whole = textToSeptets(opts.text);
    if (whole.length <= 160) return [build(whole.length, packSeptets(whole), false)];
    const chunks = splitSeptets(opts.text, refBits === 8 ? 153 : 152);
    if (chunks.length > 255) throw new PduError(`text needs ${chunks.length} parts; at most 255 are possible`);
    const headerSeptets = Math.ceil((headerOctets * 8) / 7);
    return chunks.map((septets, index) => {
      const header = concatHeader(ref, refBits, chunks.length, index + 1);
      const userDataLength = headerSeptets + septets.length;
      const userData = new Uint8Array(Math.ceil((userDataLength * 7) / 8));
      userData.set(header, 0);
      packSeptetsInto(userData, headerSeptets * 7, septets);
      return build(userDataLength, userData, true);
    });
  }

  if (opts.text.length <= 70) {
    const bytes = ucs2Bytes(opts.text);
    return [build(bytes.length, bytes, false)];
  }
  const chunks = splitUnits(opts.text, refBits === 8 ? 67 : 66);
  if (chunks.length > 255) throw new PduError(`text needs ${chunks.length} parts; at most 255 are possible`);
  return chunks.map((chunk, index) => {
    const userData = [...concatHeader(ref, refBits, chunks.length, index + 1), ...ucs2Bytes(chunk)];
    return build(userData.length, userData, true);
  });
}
