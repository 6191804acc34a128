/**
 * SMS-DELIVER decoding (3GPP TS 23.040 §9.2.2.1) of the hex a modem prints in
 * PDU mode for `+CMGR`, `+CMGL` and `+CMT`, SMSC information included.
 * Every read is bounds-checked: a malformed PDU throws PduError, nothing else.
 */
import { PduError } from "./errors.ts";
import { septetsToText, unpackSeptets } from "./gsm7.ts";
import type { ConcatInfo, DecodedPdu, PduEncoding, SenderType } from "./types.ts";

class OctetReader {
  private position = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  octet(what: string): number {
    const value = this.bytes[this.position];
    if (value === undefined) throw new PduError(`PDU ends before ${what} (octet ${this.position + 1})`);
    this.position++;
    return value;
  }

  octets(count: number, what: string): Uint8Array {
    if (count > this.remaining) {
      throw new PduError(`${what} needs ${count} octets but only ${this.remaining} remain`);
    }
    const slice = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return slice;
  }
}

const HEX = /^[0-9A-Fa-f]*$/;

function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== "string") throw new PduError("PDU must be a hex string");
  const trimmed = hex.trim();
  if (trimmed.length === 0) throw new PduError("PDU is empty");
  if (trimmed.length % 2 !== 0) throw new PduError(`PDU has an odd number of hex digits (${trimmed.length})`);
  if (!HEX.test(trimmed)) throw new PduError("PDU contains characters that are not hex digits");
  return Uint8Array.from(Buffer.from(trimmed, "hex"));
}

const SEMI_OCTET_DIGITS = "0123456789*#abc";

/** BCD semi-octets, low nibble first; 0xF is the filler. */
function decodeSemiOctets(bytes: Uint8Array, digits: number): string {
  let out = "";
  for (let i = 0; i < digits; i++) {
    const byte = bytes[i >> 1] ?? 0xff;
    const nibble = i % 2 === 0 ? byte & 0x0f : byte >> 4;
    if (nibble === 0x0f) break;
    out += SEMI_OCTET_DIGITS[nibble] ?? "";
  }
  return out;
}

function senderTypeOf(typeOfAddress: number): SenderType {
  switch ((typeOfAddress >> 4) & 0x07) {
    case 1:
      return "international";
    case 2:
      return "national";
    case 5:
      return "alphanumeric";
    default:
      return "other";
  }
}

function readSmsc(reader: OctetReader): string | undefined {
  const length = reader.octet("the SMSC length");
  if (length === 0) return undefined;
  if (length > 12) throw new PduError(`SMSC length ${length} exceeds the 12 octets TS 24.011 allows`);
  const field = reader.octets(length, "the SMSC address");
  // field[0] is the type of address; the rest is BCD.
  return decodeSemiOctets(field.subarray(1), (length - 1) * 2);
}

function readOriginator(reader: OctetReader): { sender: string; senderType: SenderType } {
  const digits = reader.octet("the originating address length");
  if (digits > 20) throw new PduError(`originating address length ${digits} exceeds 20 semi-octets`);
  const typeOfAddress = reader.octet("the originating address type");
  const value = reader.octets(Math.ceil(digits / 2), "the originating address");
  const senderType = senderTypeOf(typeOfAddress);
  if (senderType === "alphanumeric") {
    const septets = Math.floor((digits * 4) / 7);
    return { sender: septetsToText(unpackSeptets(value, 0, septets)), senderType };
  }
  return { sender: decodeSemiOctets(value, digits), senderType };
}

function swappedDecimal(byte: number, what: string): number {
  const tens = byte & 0x0f;
  const units = byte >> 4;
  if (tens > 9 || units > 9) throw new PduError(`${what} in the time stamp is not decimal (0x${byte.toString(16)})`);
  return tens * 10 + units;
}

function two(value: number): string {
  return String(value).padStart(2, "0");
}

/** TP-SCTS (TS 23.040 §9.2.3.11) → ISO 8601 with the sender's offset. Years 90..99 are 19xx. */
function readScts(reader: OctetReader): string {
  const raw = reader.octets(7, "the service centre time stamp");
  const [y, mo, d, h, mi, s, tz] = Array.from(raw);
  const year = swappedDecimal(y ?? 0, "year");
  const month = swappedDecimal(mo ?? 0, "month");
  const day = swappedDecimal(d ?? 0, "day");
  const hour = swappedDecimal(h ?? 0, "hour");
  const minute = swappedDecimal(mi ?? 0, "minute");
  const second = swappedDecimal(s ?? 0, "second");
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new PduError("time stamp holds an impossible date or time");
  }
  const tzByte = tz ?? 0;
  const negative = (tzByte & 0x08) !== 0;
  const quarters = swappedDecimal(tzByte & 0xf7, "time zone");
  if (quarters > 79) throw new PduError(`time zone offset of ${quarters} quarter hours is out of range`);
  const offsetMinutes = quarters * 15;
  const fullYear = year >= 90 ? 1900 + year : 2000 + year;
  const offset = `${negative ? "-" : "+"}${two(Math.floor(offsetMinutes / 60))}:${two(offsetMinutes % 60)}`;
  return `${fullYear}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}${offset}`;
}

interface Coding {
  encoding: PduEncoding;
  messageClass?: 0 | 1 | 2 | 3;
  /** Compressed or reserved: the payload is shown as hex. */
  opaque: boolean;
}

/** TP-DCS (TS 23.038 §4). Unknown and reserved groups are treated as opaque 8-bit data. */
function codingOf(dcs: number): Coding {
  const group = dcs >> 4;
  const classOf = (): 0 | 1 | 2 | 3 => (dcs & 0x03) as 0 | 1 | 2 | 3;
  if (group <= 0x07) {
    // General data coding (00xx) and automatic deletion (01xx).
    const compressed = (dcs & 0x20) !== 0;
    const hasClass = (dcs & 0x10) !== 0;
    const alphabet = (dcs >> 2) & 0x03;
    const messageClass = hasClass ? classOf() : undefined;
    const base = messageClass === undefined ? {} : { messageClass };
    if (compressed || alphabet === 3) return { encoding: "8bit", opaque: true, ...base };
    if (alphabet === 0) return { encoding: "gsm7", opaque: false, ...base };
    if (alphabet === 1) return { encoding: "8bit", opaque: true, ...base };
    return { encoding: "ucs2", opaque: false, ...base };
  }
  if (group === 0x0c || group === 0x0d) return { encoding: "gsm7", opaque: false }; // message waiting, GSM 7-bit
  if (group === 0x0e) return { encoding: "ucs2", opaque: false }; // message waiting, UCS2
  if (group === 0x0f) {
    const eightBit = (dcs & 0x04) !== 0;
    return { encoding: eightBit ? "8bit" : "gsm7", opaque: eightBit, messageClass: classOf() };
  }
  return { encoding: "8bit", opaque: true }; // reserved coding groups 1000..1011
}

function parseHeader(header: Uint8Array): ConcatInfo | undefined {
  let concat: ConcatInfo | undefined;
  let i = 0;
  while (i < header.length) {
    const iei = header[i];
    const length = header[i + 1];
    if (iei === undefined || length === undefined) throw new PduError("user data header ends inside an information element");
    const start = i + 2;
    const end = start + length;
    if (end > header.length) throw new PduError(`information element 0x${iei.toString(16)} runs past the user data header`);
    const data = header.subarray(start, end);
    let candidate: ConcatInfo | undefined;
    if (iei === 0x00 && length === 3) {
      candidate = { ref: data[0] ?? 0, refBits: 8, total: data[1] ?? 0, seq: data[2] ?? 0 };
    } else if (iei === 0x08 && length === 4) {
      candidate = { ref: ((data[0] ?? 0) << 8) | (data[1] ?? 0), refBits: 16, total: data[2] ?? 0, seq: data[3] ?? 0 };
    }
    // TS 23.040 §9.2.3.24.1: a zero or out-of-range part number voids the element.
    if (candidate && candidate.total > 0 && candidate.seq > 0 && candidate.seq <= candidate.total) concat = candidate;
    i = end;
  }
  return concat;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}

/** UTF-16BE code units, surrogates kept as they are so pairs split across parts re-join. */
function decodeUcs2(bytes: Uint8Array): string {
  if (bytes.length % 2 !== 0) throw new PduError(`UCS2 user data has an odd number of octets (${bytes.length})`);
  const units: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) units.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let text = "";
  for (let i = 0; i < units.length; i += 4096) text += String.fromCharCode(...units.slice(i, i + 4096));
  return text;
}

/** Decodes one SMS-DELIVER PDU (hex with leading SMSC info). Throws PduError if malformed. */
export function decodeDeliver(hex: string): DecodedPdu {
  const reader = new OctetReader(hexToBytes(hex));
  const smsc = readSmsc(reader);
  const firstOctet = reader.octet("the first octet");
  const mti = firstOctet & 0x03;
  if (mti !== 0) throw new PduError(`not an SMS-DELIVER (message type indicator ${mti})`);
  const hasHeader = (firstOctet & 0x40) !== 0;
  const { sender, senderType } = readOriginator(reader);
  const pid = reader.octet("TP-PID");
  const dcs = reader.octet("TP-DCS");
  const scts = readScts(reader);
  const userDataLength = reader.octet("TP-UDL");
  const coding = codingOf(dcs);
  const septetCoded = coding.encoding === "gsm7";
  if (septetCoded ? userDataLength > 160 : userDataLength > 140) {
    throw new PduError(`user data length ${userDataLength} exceeds the maximum for ${coding.encoding}`);
  }
  const userDataOctets = septetCoded ? Math.ceil((userDataLength * 7) / 8) : userDataLength;
  const userData = reader.octets(userDataOctets, "the user data");

  let udh: ConcatInfo | undefined;
  let headerOctets = 0;
  if (hasHeader) {
    const headerLength = userData[0];
    if (headerLength === undefined) throw new PduError("user data header indicated but user data is empty");
    headerOctets = headerLength + 1;
    if (headerOctets > userData.length) throw new PduError(`user data header length ${headerLength} runs past the user data`);
    udh = parseHeader(userData.subarray(1, headerOctets));
  }

  let text: string;
  if (septetCoded) {
    const headerSeptets = Math.ceil((headerOctets * 8) / 7);
    const textSeptets = userDataLength - headerSeptets;
    if (textSeptets < 0) throw new PduError("user data header is longer than the user data length");
    text = septetsToText(unpackSeptets(userData, headerSeptets * 7, textSeptets));
  } else {
    const body = userData.subarray(headerOctets);
    text = coding.opaque ? toHex(body) : decodeUcs2(body);
  }

  const decoded: DecodedPdu = { sender, senderType, pid, dcs, encoding: coding.encoding, scts, text };
  if (smsc !== undefined) decoded.smsc = smsc;
  if (coding.messageClass !== undefined) decoded.messageClass = coding.messageClass;
  if (udh) decoded.udh = udh;
  return decoded;
}
