/**
 * The lengths a modem prints beside a PDU: `+CMGR: <stat>,[<alpha>],<length>`,
 * `+CMGL: ...,<length>` and `+CMT: [<alpha>],<length>` give the TPDU in
 * octets, the PDU line without its SMSC information (TS 27.005 §3.1).
 */

const HEX = /^(?:[0-9A-Fa-f]{2})+$/;

/** TPDU octets of a PDU line with SMSC information in front (its first octet is the SMSC info length). */
export function tpduLength(pdu: string): number {
  const smscLength = Number.parseInt(pdu.slice(0, 2), 16) || 0;
  return pdu.length / 2 - smscLength - 1;
}

/**
 * Whether `line` is the PDU a header announced: hex octets whose TPDU length
 * is `length` (some firmwares count the SMSC information too, so the whole
 * line's octets are accepted as well). Without a length, any hex line is.
 */
export function isPduLine(line: string, length: number | undefined): boolean {
  if (!HEX.test(line)) return false;
  if (length === undefined) return true;
  return tpduLength(line) === length || line.length / 2 === length;
}
