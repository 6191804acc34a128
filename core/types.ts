/**
 * The domain shared by core and plugins. Plugins see these read-only through
 * their context; only core writes them.
 */

/** Every state a modem can be in; each change is published on the bus. */
export type ModemState =
  | "probing"
  | "initializing"
  | "ready"
  | "not-registered"
  | "sim-error"
  | "failed"
  | "absent"
  | "disabled";

export type Registration = "home" | "roaming" | "searching" | "denied" | "unknown" | "not-registered";

/** What the hub knows about one modem (located by USB path, identified by IMEI). */
export interface ModemInfo {
  /** The serial port path, e.g. /dev/serial/by-path/platform-...-usb-0:1.2:1.0-port0 */
  port: string;
  imei?: string;
  imsi?: string;
  iccid?: string;
  /** Digits with country code, no '+'. */
  msisdn?: string;
  /** Marketplace names: `russia`, `kazakhstan`, ... */
  country?: string;
  /** Marketplace names: `mts`, `megafon`, `beeline`, `tele2`, ... */
  operator?: string;
  state: ModemState;
  /** Why the modem is in its state, for the operator (no SMS content). */
  reason?: string;
  signalDbm?: number;
  registration?: Registration;
  storageUsed?: number;
  storageTotal?: number;
  lastSmsAt?: number;
  reconnects: number;
  updatedAt: number;
}

/**
 * A number the hub can offer: its modem is ready and registered and the number
 * is known. Whether it is free (no active activation) is the activations'
 * business.
 */
export interface NumberInfo {
  msisdn: string;
  iccid: string;
  imei: string;
  country: string;
  operator: string;
}

/** A whole SMS, joined from its parts, as stored once the last part is on disk. */
export interface SmsMessage {
  /** Stable id: time-ordered, unique per message. */
  messageId: string;
  /** Fingerprint of (iccid, sender, scts, text or parts) to recognise duplicates. */
  fingerprint: string;
  iccid: string;
  msisdn?: string;
  imei?: string;
  sender: string;
  text: string;
  /** Service centre time stamp, ISO 8601 with offset. */
  sentAt?: string;
  /** When the hub had the whole message on disk (ms since epoch). */
  receivedAt: number;
  parts: number;
  /** false when the message was released without all its parts. */
  complete: boolean;
  /** Routing outcome, written by core/activations. */
  route?: MessageRoute;
}

export type MessageRoute =
  | { state: "pending" }
  | { state: "no-activation"; at: number }
  | { state: "after-finish"; at: number; activationId: number }
  | { state: "forwarded"; at: number; activationId: number; marketplace: string }
  | { state: "dropped"; at: number; activationId: number; marketplace: string; reason: string }
  | { state: "held"; at: number; activationId: number; marketplace: string; reason: string };

/** What plugins see of the modems: read-only, plus the operator's commands. */
export interface ModemsView {
  list(): ModemInfo[];
  get(imei: string): ModemInfo | undefined;
  /** Operator commands (MQTT, CLI): reset runs the recovery ladder; disable/enable take a modem out of service. */
  command(imei: string, action: "reset" | "disable" | "enable"): Promise<void>;
}

/** The numbers currently usable (modem ready and registered, number known). */
export interface NumbersView {
  list(): NumberInfo[];
  byMsisdn(msisdn: string): NumberInfo | undefined;
}
