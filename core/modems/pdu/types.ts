export type SenderType = "international" | "national" | "alphanumeric" | "other";
export type PduEncoding = "gsm7" | "ucs2" | "8bit";

/** Concatenation information (IEI 0x00: 8-bit reference, IEI 0x08: 16-bit reference). */
export interface ConcatInfo {
  ref: number;
  refBits: 8 | 16;
  total: number;
  seq: number;
}

export interface DecodedPdu {
  /** SMSC address digits (no '+'), absent when the PDU has no SMSC info. */
  smsc?: string;
  /** Digits without '+' for numbers; the decoded name for alphanumeric senders. */
  sender: string;
  senderType: SenderType;
  /** TP-PID. */
  pid: number;
  /** TP-DCS as received. */
  dcs: number;
  encoding: PduEncoding;
  /** Message class 0..3 when the DCS gives one (class 0 = flash). */
  messageClass?: 0 | 1 | 2 | 3;
  /** Service centre time stamp, ISO 8601 with the sender's offset, e.g. `2024-05-01T12:00:00+03:00`. */
  scts: string;
  /** The text; for 8-bit data (and unknown coding groups) the payload as upper-case hex. */
  text: string;
  udh?: ConcatInfo;
}
