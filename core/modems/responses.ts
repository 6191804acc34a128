/**
 * Parsers for the information lines of AT replies (3GPP TS 27.005 / 27.007).
 * Each takes the lines `AtPort.command` resolved with and returns typed values;
 * none of them throws on an unexpected shape, they return undefined instead.
 */
import { isPduLine } from "./pdu/index.ts";

/**
 * A stored message as `AT+CMGR` / `AT+CMGL` (PDU mode) show it: a header
 * `+CMGR: <stat>,[<alpha>],<length>` / `+CMGL: <index>,<stat>,[<alpha>],<length>`,
 * then the PDU line. Lines may arrive between the two (a vendor's unlisted
 * URC such as `+CTZV:`, line noise): the PDU is the next hex line whose length
 * matches the header's.
 */
export interface ReadPdu {
  /** 0 unread, 1 read, 2 stored unsent, 3 stored sent. */
  stat: number;
  /** The PDU hex, SMSC prefix included; absent when no hex line followed the header at all. */
  pdu?: string;
  /**
   * The only hex line after the header does not have the header's length: it
   * may be a damaged PDU or noise. Kept raw, never decoded; the slot is
   * deleted only once a second read shows the same line.
   */
  mismatch?: true;
}

export interface ListedPdu extends ReadPdu {
  index: number;
}

const HEADER_LENGTH = /,\s*(\d+)\s*$/;
const HEX_LINE = /^(?:[0-9A-Fa-f]{2})+$/;

/** The PDU among `lines[from..to)` (those between a header and the next header or the end). */
function pduAfter(header: string, lines: readonly string[], from: number, to: number): Pick<ReadPdu, "pdu" | "mismatch"> {
  const match = HEADER_LENGTH.exec(header);
  const length = match ? Number(match[1]) : undefined;
  let lone: string | undefined;
  let hexLines = 0;
  for (let i = from; i < to; i++) {
    const line = (lines[i] as string).trim();
    if (!HEX_LINE.test(line)) continue;
    if (isPduLine(line, length)) return { pdu: line };
    hexLines++;
    lone = line;
  }
  return hexLines === 1 && lone !== undefined ? { pdu: lone, mismatch: true } : {};
}

/** Every `+CMGL:` entry with its PDU (see ReadPdu for what may be missing). */
export function parseCmgl(lines: readonly string[]): ListedPdu[] {
  const result: ListedPdu[] = [];
  for (let at = 0; at < lines.length; at++) {
    const header = lines[at] as string;
    if (!header.startsWith("+CMGL:")) continue;
    let end = at + 1;
    while (end < lines.length && !(lines[end] as string).startsWith("+CMGL:")) end++;
    const match = /^\+CMGL:\s*(\d+)\s*,\s*(\d+)/.exec(header);
    if (match) result.push({ index: Number(match[1]), stat: Number(match[2]), ...pduAfter(header, lines, at + 1, end) });
    at = end - 1;
  }
  return result;
}

/** `+CMGR:` and its PDU; undefined for an empty slot (no header). */
export function parseCmgr(lines: readonly string[]): ReadPdu | undefined {
  const at = lines.findIndex((line) => line.startsWith("+CMGR:"));
  if (at < 0) return undefined;
  const header = lines[at] as string;
  const stat = /^\+CMGR:\s*(\d+)/.exec(header);
  return { stat: stat ? Number(stat[1]) : 0, ...pduAfter(header, lines, at + 1, lines.length) };
}

/** `+CPMS: "SM",used,total,...` (query) or `+CPMS: used,total,...` (set). The first pair is mem1, where messages are read. */
export function parseCpms(lines: readonly string[]): { used: number; total: number } | undefined {
  for (const line of lines) {
    const match = /^\+CPMS:\s*(?:"[^"]*"\s*,\s*)?(\d+)\s*,\s*(\d+)/.exec(line);
    if (match) return { used: Number(match[1]), total: Number(match[2]) };
  }
  return undefined;
}

/** `+CSQ: rssi,ber` → rssi (0..31, 99 unknown). */
export function parseCsq(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    const match = /^\+CSQ:\s*(\d+)/.exec(line);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/**
 * RSSI as AT+CSQ reports it → dBm (TS 27.007 §8.5): 0 is -113 dBm or less,
 * 1 is -111, 2..30 step 2 dB from -109 to -53, 31 is -51 or more, 99 unknown.
 */
export function csqToDbm(rssi: number | undefined): number | undefined {
  if (rssi === undefined || !Number.isInteger(rssi) || rssi < 0 || rssi > 31) return undefined;
  return -113 + 2 * rssi;
}

/**
 * `+CREG: n,stat[,lac,ci]` (reply to AT+CREG?) → stat. `+CREG: stat[,lac,ci]`
 * (the unsolicited form) is parsed by `parseCregUrc`.
 */
export function parseCregQuery(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    const match = /^\+CREG:\s*(\d+)\s*,\s*(\d+)/.exec(line);
    if (match) return Number(match[2]);
  }
  return undefined;
}

/** A line of digits alone, e.g. the reply to AT+CGSN / AT+CIMI (some modems prefix the command name). */
export function parseDigits(lines: readonly string[], prefix?: string): string | undefined {
  for (const raw of lines) {
    let line = raw.trim();
    if (prefix && line.toUpperCase().startsWith(prefix)) line = line.slice(prefix.length).replace(/^:\s*/, "");
    line = line.replace(/^"|"$/g, "");
    if (/^\d{6,20}$/.test(line)) return line;
  }
  return undefined;
}

/** ICCID from `+CCID: 8970...`, `+ICCID: ...`, `^ICCID: ...` or a bare line; a trailing F (padding) is dropped. */
export function parseIccid(lines: readonly string[]): string | undefined {
  for (const raw of lines) {
    const match = /^(?:[+^]?I?CCID:\s*)?"?([0-9]{18,20}[0-9A-Fa-f]?)"?$/.exec(raw.trim());
    if (match?.[1]) return match[1].replace(/[Ff]$/, "");
  }
  return undefined;
}

/** `+CNUM: "alpha","+79161234567",145` → digits, or undefined when the SIM holds no number. */
export function parseCnum(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const match = /^\+CNUM:\s*(?:"[^"]*"|[^,]*)\s*,\s*"(\+?\d{6,15})"/.exec(line);
    if (match?.[1]) return match[1].replace(/^\+/, "");
  }
  return undefined;
}

/** `+CPIN: READY` / `+CPIN: SIM PIN` ... → the status word. */
export function parseCpin(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const match = /^\+CPIN:\s*(.+)$/.exec(line);
    if (match?.[1]) return match[1].trim().replace(/^"|"$/g, "");
  }
  return undefined;
}

/** `+COPS: mode,format,"name",act` → the operator name as the network announces it. */
export function parseCops(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const match = /^\+COPS:\s*\d+\s*,\s*\d+\s*,\s*"([^"]*)"/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * The text of a `+CUSD: m,"str",dcs` answer. Modems return it as plain text,
 * or as UCS2 hex when the character set is UCS2 or the network sent UCS2
 * (dcs 72); hex that decodes cleanly as UTF-16BE is decoded.
 */
export function decodeUssdText(text: string, dcs?: number): string {
  const hex = /^(?:[0-9A-Fa-f]{4})+$/.test(text);
  if (hex && (dcs === 72 || dcs === 0x48 || text.length >= 8)) {
    const bytes = Buffer.from(text, "hex");
    const swapped = Buffer.alloc(bytes.length);
    for (let i = 0; i + 1 < bytes.length; i += 2) {
      swapped[i] = bytes[i + 1] ?? 0;
      swapped[i + 1] = bytes[i] ?? 0;
    }
    const decoded = swapped.toString("utf16le");
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\uFFFD]/.test(decoded)) return decoded;
  }
  return text;
}
