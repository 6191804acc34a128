import type { Logger } from "../log.ts";
import type { Store, Sublevel } from "../store/store.ts";
import type { ModemInfo, Registration } from "../types.ts";
import type { AtPort } from "./at.ts";
import { DEFAULT_USSD, type ModemsConfig, type UssdNumberRequest } from "./config.ts";
import { CALLING_CODES, operatorFromImsi } from "./operators.ts";
import { decodeUssdText, parseCnum, parseDigits, parseIccid } from "./responses.ts";
import type { Urc } from "./urc.ts";

/** What the hub remembers of a SIM, keyed by ICCID in the `sims` sublevel. */
export interface SimRecord {
  iccid: string;
  imsi?: string;
  msisdn?: string;
  /** How the number was learned. */
  msisdnSource?: "config" | "cnum" | "ussd";
  lastImei?: string;
  lastPort?: string;
  firstSeenAt: number;
  lastSeenAt: number;
}

export type MsisdnSource = NonNullable<SimRecord["msisdnSource"]>;

/** The `sims` sublevel: learned numbers survive restarts and modem swaps. */
export class SimRegistry {
  readonly #store: Store;
  readonly sims: Sublevel<SimRecord>;

  constructor(store: Store) {
    this.#store = store;
    this.sims = store.sub<SimRecord>("sims");
  }

  get(iccid: string): Promise<SimRecord | undefined> {
    return this.sims.get(iccid);
  }

  /** The ICCIDs last seen on one of `ports`. */
  async lastSeenOn(ports: ReadonlySet<string>): Promise<string[]> {
    const iccids: string[] = [];
    if (ports.size === 0) return iccids;
    for await (const record of this.sims.values()) if (record.lastPort && ports.has(record.lastPort)) iccids.push(record.iccid);
    return iccids;
  }

  /** Merges `update` into the SIM's record (synced). */
  async seen(iccid: string, update: Partial<Omit<SimRecord, "iccid" | "firstSeenAt">>, now = Date.now()): Promise<SimRecord> {
    const existing = await this.sims.get(iccid);
    const record: SimRecord = { ...(existing ?? { iccid, firstSeenAt: now }), ...dropUndefined(update), iccid, lastSeenAt: now };
    await this.#store.put(this.sims, iccid, record);
    return record;
  }
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What belongs to the SIM, not the modem: dropped when another SIM is found in it. */
const SIM_FIELDS = ["imsi", "iccid", "msisdn", "country", "operator", "storageUsed", "storageTotal", "lastSmsAt"] as const;

/** A modem's info without anything of its SIM. */
export function withoutSim(info: ModemInfo): ModemInfo {
  const modem: ModemInfo = { ...info };
  for (const field of SIM_FIELDS) delete modem[field];
  return modem;
}

/** AT+CREG stat → Registration. */
export function registrationFromCreg(stat: number | undefined): Registration {
  switch (stat) {
    case 0:
      return "not-registered";
    case 1:
      return "home";
    case 2:
      return "searching";
    case 3:
      return "denied";
    case 5:
      return "roaming";
    default:
      return "unknown";
  }
}

export function isRegistered(registration: Registration | undefined): boolean {
  return registration === "home" || registration === "roaming";
}

/**
 * Digits with country code, no '+': `+7 916 123-45-67`, `89161234567` and
 * `9161234567` (russia) all give `79161234567`. Undefined when it does not
 * look like a number.
 */
export function normalizeMsisdn(raw: string, country?: string): string | undefined {
  const international = raw.trim().startsWith("+");
  let digits = raw.replace(/\D/g, "");
  if (digits.length < 6 || digits.length > 15) return undefined;
  if (international) return digits;
  const code = country ? CALLING_CODES[country] : undefined;
  if (code === "7") {
    if (digits.length === 11 && digits.startsWith("8")) digits = `7${digits.slice(1)}`;
    else if (digits.length === 10) digits = `7${digits}`;
  } else if (code && !digits.startsWith(code)) {
    digits = `${code}${digits.replace(/^0/, "")}`;
  }
  return digits;
}

export interface ModemIdentity {
  imei?: string;
  imsi?: string;
  iccid?: string;
  country?: string;
  operator?: string;
}

/** IMEI, IMSI, ICCID and the country/operator they imply (config override per ICCID first). */
export async function readIdentity(at: AtPort, config: ModemsConfig, timeoutMs: number): Promise<ModemIdentity> {
  const identity: ModemIdentity = {};
  identity.imei = parseDigits(await at.command("AT+CGSN", { timeoutMs }), "+CGSN");
  identity.imsi = parseDigits(await at.command("AT+CIMI", { timeoutMs }), "+CIMI");
  identity.iccid = await readIccid(at, timeoutMs);
  const fromTable = operatorFromImsi(identity.imsi);
  const override = identity.iccid ? config.operators[identity.iccid] : undefined;
  identity.country = override?.country ?? fromTable?.country;
  identity.operator = override?.operator ?? fromTable?.operator;
  return identity;
}

/** AT+CCID, else the vendor forms AT+ICCID / AT^ICCID?. */
async function readIccid(at: AtPort, timeoutMs: number): Promise<string | undefined> {
  for (const command of ["AT+CCID", "AT+ICCID", "AT^ICCID?"]) {
    try {
      const iccid = parseIccid(await at.command(command, { timeoutMs }));
      if (iccid) return iccid;
    } catch {
      // not supported by this modem: try the next form
    }
  }
  return undefined;
}

export interface OwnNumberContext {
  at: AtPort;
  config: ModemsConfig;
  iccid: string;
  country?: string;
  operator?: string;
  /** A number set for this port in `modems.overrides`. */
  portMsisdn?: string;
  known?: SimRecord;
  log: Logger;
  timeoutMs: number;
  ussdTimeoutMs?: number;
}

export type OwnNumber = { msisdn: string; source: MsisdnSource };

/**
 * The SIM's own number. A number the operator wrote in config wins (per port,
 * then per ICCID); then AT+CNUM; then the number learned earlier for this ICCID
 * (so a USSD request is not repeated at every start); then the operator's USSD
 * request. Undefined when none gives one.
 */
export async function resolveOwnNumber(context: OwnNumberContext): Promise<OwnNumber | undefined> {
  return (await knownOwnNumber(context)) ?? (await ussdOwnNumber(context));
}

/** The own number without a network round trip: config, AT+CNUM, or learned earlier for this ICCID. */
export async function knownOwnNumber(context: OwnNumberContext): Promise<OwnNumber | undefined> {
  const { at, config, iccid, country, log } = context;
  const manual = context.portMsisdn ?? config.numbers[iccid];
  if (manual) {
    const msisdn = normalizeMsisdn(manual.startsWith("+") ? manual : `+${manual}`, country);
    if (msisdn) return { msisdn, source: "config" };
  }
  try {
    const cnum = parseCnum(await at.command("AT+CNUM", { timeoutMs: context.timeoutMs }));
    const msisdn = cnum ? normalizeMsisdn(`+${cnum}`, country) : undefined;
    if (msisdn) return { msisdn, source: "cnum" };
  } catch (error) {
    log.debug({ err: error }, "AT+CNUM failed");
  }
  if (context.known?.msisdn && context.known.msisdnSource !== "config") {
    return { msisdn: context.known.msisdn, source: context.known.msisdnSource ?? "ussd" };
  }
  return undefined;
}

/** The own number from the operator's USSD request (`modems.ussd` over the built-in table); needs the network. */
export async function ussdOwnNumber(context: OwnNumberContext): Promise<OwnNumber | undefined> {
  const { at, config, country, log } = context;
  const request = context.operator ? ({ ...DEFAULT_USSD, ...config.ussd } as Record<string, UssdNumberRequest>)[context.operator] : undefined;
  if (!request) return undefined;
  try {
    const reply = await ussd(at, request.request, context.ussdTimeoutMs ?? 20_000, context.timeoutMs);
    const match = reply === undefined ? null : new RegExp(request.pattern).exec(reply);
    const found = match ? (match[1] ?? match[0]) : undefined;
    const msisdn = found ? normalizeMsisdn(found, country) : undefined;
    if (msisdn) return { msisdn, source: "ussd" };
    log.warn({ operator: context.operator, request: request.request }, "USSD own-number reply did not match its pattern");
  } catch (error) {
    log.warn({ err: error, operator: context.operator }, "USSD own-number request failed");
  }
  return undefined;
}

/** Sends a USSD request and resolves with the answer's text (undefined when the network gives none). */
export async function ussd(at: AtPort, code: string, waitMs: number, commandTimeoutMs: number): Promise<string | undefined> {
  let onUrc: ((urc: Urc) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const answer = new Promise<Extract<Urc, { type: "cusd" }> | undefined>((resolve) => {
    onUrc = (urc) => {
      if (urc.type === "cusd") resolve(urc);
    };
    at.on("urc", onUrc);
    timer = setTimeout(() => resolve(undefined), waitMs);
  });
  try {
    await at.command(`AT+CUSD=1,"${code}",15`, { timeoutMs: commandTimeoutMs });
    const urc = await answer;
    if (urc?.status === 1) await at.command("AT+CUSD=2", { timeoutMs: commandTimeoutMs }).catch(() => undefined);
    return urc?.text === undefined ? undefined : decodeUssdText(urc.text, urc.dcs);
  } finally {
    clearTimeout(timer);
    if (onUrc) at.off("urc", onUrc);
  }
}
