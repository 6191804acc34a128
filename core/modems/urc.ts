/**
 * Unsolicited result codes: lines a modem sends on its own, which may arrive
 * between any two lines of a command's reply.
 */

export type Urc =
  /** A new message stored in `storage` at `index` (TS 27.005 §3.4.1). */
  | { type: "cmti"; storage: string; index: number }
  /**
   * A message delivered directly, never stored (`+CMT: [<alpha>],<length>` and
   * its PDU line): class 0 (flash) on some firmwares, or a modem in CNMI mt=2.
   * `AtPort` attaches the PDU line whose length matches the header.
   */
  | { type: "cmt"; pdu: string }
  /** A USSD answer (TS 27.007 §7.15): m 0 done, 1 more action, 2 cancelled, 4 not supported. */
  | { type: "cusd"; status: number; text?: string; dcs?: number }
  /** Registration changed (AT+CREG=1/2): stat 0 not, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming. */
  | { type: "creg"; stat: number; lac?: string; ci?: string }
  | { type: "ring" }
  | { type: "clip"; number: string }
  /** Message storage full: `^SMMEMFULL`, or an unsolicited `+CMS ERROR: 322` (storage ""); `+CIEV: "MESSAGE",...`-style vendors are reported as `other`. */
  | { type: "memfull"; storage: string }
  /** Anything else a modem is known to send on its own (^RSSI, ^BOOT, +CIEV, ...). */
  | { type: "other"; line: string };

/** Prefixes that are always unsolicited, whatever command is in flight. */
const ALWAYS = ["+CMTI:", "+CMT:", "+CUSD:", "RING", "+CLIP:", "^SMMEMFULL", "+CDSI:", "+CDS:", "+CBM:"];

/** Prefixes that are unsolicited unless the command in flight asked for them (e.g. `+CREG:` answers AT+CREG?). */
const UNLESS_ASKED = ["+CREG:", "+CGREG:", "+CEREG:", "^RSSI:", "^HCSQ:", "^BOOT:", "^MODE:", "^SRVST:", "^SIMST:", "^SYSSTART", "+CIEV:", "+PACSP", "+QIND:", "^CEND:", "^ORIG:", "^CONF:", "^CONN:", "+CPIN:", "^STIN:", "+STIN:", "^DSFLOWRPT:", "+CRING:"];

/** `+NAME` prefixes of the commands in a command line: `AT+CMGF=0;+CNMI=...` → ["+CMGF", "+CNMI"]. */
export function askedPrefixes(command: string): string[] {
  const body = command.replace(/^AT/i, "");
  const result: string[] = [];
  for (const part of body.split(";")) {
    const match = /^([+^][A-Za-z0-9]+)/.exec(part.trim());
    if (match?.[1]) result.push(match[1].toUpperCase());
  }
  return result;
}

/** Whether `line` is unsolicited while `command` (or nothing) is in flight. */
export function isUnsolicited(line: string, command: string | undefined): boolean {
  // every prefix starts with '+', '^' or 'R' (RING): PDU lines, OK and the like are never unsolicited
  const first = line.charCodeAt(0);
  if (first !== 0x2b && first !== 0x5e && first !== 0x52) return false;
  if (ALWAYS.some((prefix) => line.startsWith(prefix))) return true;
  const prefix = UNLESS_ASKED.find((p) => line.startsWith(p));
  if (!prefix) return false;
  if (command === undefined) return true;
  const name = prefix.replace(/:$/, "");
  return !askedPrefixes(command).includes(name);
}

/** Parses an unsolicited line (`+CMT:` and its PDU line are `AtPort`'s). */
export function parseUrc(line: string): Urc {
  let match = /^\+CMTI:\s*"?([A-Z]*)"?\s*,\s*(\d+)/.exec(line);
  if (match) return { type: "cmti", storage: match[1] ?? "", index: Number(match[2]) };
  match = /^\+CUSD:\s*(\d+)(?:\s*,\s*"([^"]*)"(?:\s*,\s*(\d+))?)?/.exec(line);
  if (match) {
    const urc: Urc = { type: "cusd", status: Number(match[1]) };
    if (match[2] !== undefined) urc.text = match[2];
    if (match[3] !== undefined) urc.dcs = Number(match[3]);
    return urc;
  }
  match = /^\+CREG:\s*(\d+)(?:\s*,\s*"?([0-9A-Fa-f]+)"?\s*,\s*"?([0-9A-Fa-f]+)"?)?/.exec(line);
  if (match) {
    const urc: Urc = { type: "creg", stat: Number(match[1]) };
    if (match[2]) urc.lac = match[2];
    if (match[3]) urc.ci = match[3];
    return urc;
  }
  if (line === "RING" || line.startsWith("+CRING:")) return { type: "ring" };
  match = /^\+CLIP:\s*"([^"]*)"/.exec(line);
  if (match) return { type: "clip", number: match[1] ?? "" };
  match = /^\^SMMEMFULL:?\s*"?([A-Z]*)"?/.exec(line);
  if (match) return { type: "memfull", storage: match[1] ?? "" };
  return { type: "other", line };
}
