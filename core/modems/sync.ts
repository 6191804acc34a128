/**
 * Keeping replies in step with commands. A modem answers its commands in
 * order, but a reply that comes after its command timed out, or a final
 * result code forged by line noise, would be taken for the next command's
 * reply: a `+CMGR` reply carries no slot index, so the intake would persist
 * one slot's SMS and delete another. Three defences, used by `AtPort`:
 *
 * - Markers: harmless queries whose answer simhive sends nowhere else
 *   (`AT+CMGF?` → `+CMGF: 0`, ...). After any sign of a reply out of step the
 *   port sends one and drops every line until the marker's own answer; a
 *   command whose reply decides a deletion carries one chained at its end
 *   (`AT+CMGR=3;+CNMI?`) and is accepted only if exactly that answer closes
 *   its reply. Consecutive uses rotate through the markers, so the reply of
 *   the previous marked line never passes for the current one.
 * - Foreign lines: a line that answers another command simhive sends (a
 *   `+CMGL:` in the reply to `AT+CPMS?`) shows that the reply is not the
 *   command's own.
 * - Stray lines: a reply line arriving while nothing is in flight is a
 *   late reply.
 */

export interface Marker {
  /** The command, without `AT` (chained after `;` or sent alone). */
  readonly command: string;
  /** The start of its answer line. */
  readonly prefix: string;
}

/** Queries of settings every SMS modem has (TS 27.005 / 27.007), sent by simhive only as markers. */
export const MARKERS: readonly Marker[] = [
  { command: "+CMGF?", prefix: "+CMGF:" },
  { command: "+CNMI?", prefix: "+CNMI:" },
  { command: "+CMEE?", prefix: "+CMEE:" },
];

/**
 * Answer prefixes of the commands simhive sends that no modem sends on its
 * own. Unsolicited-capable ones (`+CREG:`, `+CPIN:`, `+CUSD:`) are URCs
 * instead, answers to commands simhive never sends are left out (`+CFUN:`
 * comes unsolicited at boot on some modems), and so is the ICCID family,
 * because vendors answer one form with another's prefix.
 */
const REPLY_PREFIXES = ["+CMGR:", "+CMGL:", "+CPMS:", "+CSQ:", "+CNUM:", "+CSMS:", "+CGSN:", ...MARKERS.map((m) => m.prefix)];

/** The reply prefix `line` starts with, if it answers a command simhive sends. */
export function replyPrefix(line: string): string | undefined {
  if (line.charCodeAt(0) !== 0x2b) return undefined; // '+'
  return REPLY_PREFIXES.find((prefix) => line.startsWith(prefix));
}

/** Whether `line` answers a command other than those asked (`askedPrefixes` of the command line). */
export function isForeign(line: string, asked: readonly string[]): boolean {
  const prefix = replyPrefix(line);
  return prefix !== undefined && !asked.includes(prefix.slice(0, -1));
}

/** Lines like `+CTZV: ...`, `*PSUTTZ: ...`, `^RSSI: ...`: a vendor's unsolicited line, when no command asked for it. */
export function looksUnsolicited(line: string): boolean {
  return /^[+^*#][A-Za-z][A-Za-z0-9]*:/.test(line) && replyPrefix(line) === undefined;
}

/**
 * The reply of a marked command, without its marker line, if `marker`'s
 * answer is the only marker line in it; undefined when the reply is not
 * the line's own.
 */
export function checkMarked(lines: readonly string[], marker: Marker): string[] | undefined {
  const kept: string[] = [];
  let marks = 0;
  let own = false;
  for (const line of lines) {
    if (line.charCodeAt(0) === 0x2b && MARKERS.some((m) => line.startsWith(m.prefix))) {
      marks++;
      own = line.startsWith(marker.prefix);
    } else {
      kept.push(line);
    }
  }
  return marks === 1 && own ? kept : undefined;
}
