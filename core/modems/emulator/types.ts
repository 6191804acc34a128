/** The emulated modem's options, settings and counters (shared by its parts). */

export interface EmulatedModemOptions {
  imei: string;
  imsi: string;
  iccid: string;
  /** Digits with country code, no '+'. */
  msisdn?: string;
  /** Whether AT+CNUM answers the number. */
  cnum?: boolean;
  operator?: string;
  /** Text of the +CUSD answer to any USSD request (e.g. one containing the number). */
  ussdNumberReply?: string;
  ussdDelayMs?: number;
  /** AT+CSQ rssi, 0..31 or 99. */
  signal?: number;
  /** +CREG stat: 0 not registered, 1 home, 2 searching, 3 denied, 5 roaming. */
  registered?: number;
  pinRequired?: boolean;
  pin?: string;
  storageSize?: number;
  echo?: boolean;
  smsc?: string;
  radioOnDelayMs?: number;
  /** Power-up +CNMI: mode, mt, bm, ds, bfr. */
  cnmi?: readonly number[];
  /** Power-up +CSMS service: 0 (phase 2, the default) or 1 (phase 2+: a +CMT must be acknowledged with AT+CNMA). */
  csms?: 0 | 1;
  /** Phase 2+: how long the modem waits for AT+CNMA after a +CMT before giving the SMS back to the network (default 5000 ms). */
  ackTimeoutMs?: number;
  /** How the modem signals that an SMS found the storage full: `^SMMEMFULL: "SM"` (default) or an unsolicited `+CMS ERROR: 322`. */
  memFullSignal?: "smmemfull" | "cms322";
  /** Class 0 (flash) SMS go to the host as +CMT whatever +CNMI says, never stored, as some firmwares do. */
  flashDirect?: boolean;
}

export interface InjectOptions {
  sender: string;
  text: string;
  encoding?: "auto" | "gsm7" | "ucs2";
  timestamp?: Date;
  utcOffsetMinutes?: number;
  ref?: number;
  refBits?: 8 | 16;
  /** Delivery order by 1-based part number, e.g. [2, 1]. */
  order?: number[];
  /** Part numbers (1-based) that are never delivered. */
  drop?: number[];
  /** Store without the +CMTI indication. */
  lostCmti?: boolean;
  /** A class 0 (flash) SMS. */
  flash?: boolean;
}

/** The serial side a modem talks to (the binding's port, or a pty). */
export interface ModemLink {
  data(chunk: Buffer): void;
  /** The device went away (unplug): the link must fail its reads and writes. */
  disconnect(error: Error): void;
}

export interface ModemCounters {
  /** Command lines received. */
  commands: number;
  /** Per command name: "+CMGD", "+CMGR", "Z", "E", ... */
  byCommand: Record<string, number>;
  stored: number;
  deleted: number;
  urcs: number;
  rejectedFull: number;
  /** SMS routed to the host with +CMT. */
  direct: number;
  /** +CMT acknowledged with AT+CNMA. */
  acked: number;
  /** +CMT not acknowledged in time (phase 2+): given back to the network. */
  ackTimeouts: number;
}

/** AT session settings: reset by ATZ, AT&F, AT+CFUN=1,1 and a power-up. */
export interface Session {
  echo: boolean;
  cmee: number;
  cmgf: number;
  cnmi: number[];
  cregMode: number;
  cscs: string;
  /** +CSMS service: 1 = phase 2+, +CMT needs AT+CNMA. */
  csms: number;
}
