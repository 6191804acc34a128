/**
 * Parsers for the information lines of AT replies (3GPP TS 27.005 / 27.007).
 * Each takes the lines `AtPort.command` resolved with and returns typed values;
 * none of them throws on an unexpected shape, they return undefined instead.
 */

/** One stored message as `AT+CMGL` (PDU mode) lists it. */
export interface ListedPdu {
  index: number;
  /** 0 unread, 1 read, 2 stored unsent, 3 stored sent. */
  stat: number;
  /** The PDU hex, SMSC prefix included. */
  pdu: string;
}

/** `+CMGL: idx,stat,[alpha],len` followed by the PDU line. A header without a PDU line is skipped. */
export function parseCmgl(lines: readonly string[]): ListedPdu[] {
  const result: ListedPdu[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\+CMGL:\s*(\d+)\s*,\s*(\d+)/.exec(lines[i] ?? "");
    if (!match) continue;
    const next = lines[i + 1];
    if (next === undefined || next.startsWith("+CMGL:")) continue;
    result.push({ index: Number(match[1]), stat: Number(match[2]), pdu: next.trim() });
    i++;
  }
  return result;
}

/** `+CMGR: stat,[alpha],len` followed by the PDU line; undefined for an empty slot. */
export function parseCmgr(lines: readonly string[]): { stat: number; pdu: string } | undefined {
  const at = lines.findIndex((line) => line.startsWith("+CMGR:"));
  if (at < 0) return undefined;
  const stat = /^\+CMGR:\s*(\d+)/.exec(lines[at] ?? "");
  const pdu = lines[at + 1]?.trim();
  if (!stat || !pdu) return undefined;
  return { stat: Number(stat[1]), pdu };
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
