import { SimhiveError } from "../errors.ts";
import type { ModemState } from "../types.ts";
import { AtCommandError, type AtPort } from "./at.ts";
import type { ModemsConfig, PortOverride } from "./config.ts";
import { readIdentity, type ModemIdentity } from "./identity.ts";
import { csqToDbm, parseCpin, parseCpms, parseCregQuery, parseCsq } from "./responses.ts";

/** Why init stopped short of a usable modem: the state to show and why. */
export class InitError extends SimhiveError {
  readonly state: Extract<ModemState, "sim-error" | "failed" | "probing">;
  constructor(state: InitError["state"], message: string, cause?: unknown) {
    super("SIMHIVE_ERR_MODEM", message, cause === undefined ? undefined : { cause });
    this.name = "InitError";
    this.state = state;
  }
}

export interface InitResult extends ModemIdentity {
  rssi?: number;
  signalDbm?: number;
  cregStat?: number;
  storageUsed?: number;
  storageTotal?: number;
}

/** Answers AT within a few tries (a modem just plugged in may still be booting). */
export async function awaitAt(at: AtPort, tries: number, timeoutMs: number): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < tries; attempt++) {
    try {
      await at.command("AT", { timeoutMs });
      return;
    } catch (error) {
      last = error;
      await at.flush(100, 500);
    }
  }
  throw new InitError("probing", `${at.path}: no answer to AT`, last);
}

/**
 * The init sequence (after `awaitAt`): echo off, numeric errors, SIM (PIN if configured),
 * identity, PDU mode, storage set explicitly for read/write/receive, new
 * messages stored and indicated with +CMTI (CNMI mt=1; never mt=2, +CMT,
 * which loses what arrives while nobody reads), registration URCs, and the
 * first signal/registration/storage reading.
 */
export async function initialize(at: AtPort, config: ModemsConfig, override: PortOverride, timeoutMs: number): Promise<InitResult> {
  const command = (line: string, ms = timeoutMs) => at.command(line, { timeoutMs: ms });
  await command("ATE0");
  await command("AT+CMEE=1");

  let pin: string | undefined;
  try {
    pin = parseCpin(await command("AT+CPIN?"));
  } catch (error) {
    throw new InitError("sim-error", simProblem(error), error);
  }
  if (pin === "SIM PIN") {
    if (!override.pin) throw new InitError("sim-error", "the SIM asks for a PIN and none is configured (modems.overrides.<port>.pin)");
    try {
      await command(`AT+CPIN="${override.pin}"`, Math.max(timeoutMs, 10_000));
    } catch (error) {
      throw new InitError("sim-error", "the configured PIN was refused; not retried, to keep the SIM from locking", error);
    }
  } else if (pin !== undefined && pin !== "READY") {
    throw new InitError("sim-error", `SIM not ready: ${pin}`);
  }

  const result: InitResult = await readIdentity(at, config, timeoutMs);
  if (!result.iccid) throw new InitError("sim-error", "the SIM gives no ICCID");

  await command("AT+CMGF=0");
  await command('AT+CSCS="GSM"').catch(() => undefined);
  const storage = config.storage;
  const cpms = parseCpms(await command(`AT+CPMS="${storage}","${storage}","${storage}"`));
  if (cpms) {
    result.storageUsed = cpms.used;
    result.storageTotal = cpms.total;
  }
  try {
    await command("AT+CNMI=2,1,0,0,0");
  } catch {
    await command("AT+CNMI=1,1,0,0,0");
  }
  await command("AT+CREG=1").catch(() => undefined);

  const status = await readStatus(at, timeoutMs);
  return { ...result, ...status };
}

/** Signal and registration in one line: `AT+CSQ;+CREG?`. Also the health ping. */
export async function readStatus(at: AtPort, timeoutMs: number): Promise<{ rssi?: number; signalDbm?: number; cregStat?: number }> {
  const lines = await at.command("AT+CSQ;+CREG?", { timeoutMs });
  const rssi = parseCsq(lines);
  const cregStat = parseCregQuery(lines);
  const signalDbm = csqToDbm(rssi);
  return {
    ...(rssi === undefined ? {} : { rssi }),
    ...(signalDbm === undefined ? {} : { signalDbm }),
    ...(cregStat === undefined ? {} : { cregStat }),
  };
}

function simProblem(error: unknown): string {
  if (error instanceof AtCommandError) {
    switch (error.errorCode) {
      case 10:
        return "no SIM inserted";
      case 11:
        return "the SIM asks for a PIN";
      case 12:
        return "the SIM asks for a PUK";
      case 13:
        return "SIM failure";
      case 14:
        return "SIM busy";
      default:
        return `SIM not usable: ${error.final}`;
    }
  }
  return `SIM state unknown: ${(error as Error).message}`;
}
