import type { EmulatorConfig } from "./config.ts";
import { EmulatedModem, emulatorRegistry, type ModemRegistry } from "./emulator/index.ts";

/** The russian operators emulated modems rotate through: IMSI prefix and the name AT+COPS? gives. */
const EMULATED_OPERATORS = [
  { mccmnc: "25001", name: "MTS RUS" },
  { mccmnc: "25002", name: "MegaFon" },
  { mccmnc: "25099", name: "Beeline" },
  { mccmnc: "25020", name: "Tele2" },
] as const;

/** Appends the Luhn check digit (IMEIs and ICCIDs carry one). */
export function withLuhn(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${digits}${(10 - (sum % 10)) % 10}`;
}

export interface EmulatedIdentity {
  path: string;
  imei: string;
  imsi: string;
  iccid: string;
  msisdn: string;
  operatorName: string;
  cnum: boolean;
}

/** The deterministic identity of emulated modem number `n` (1-based). */
export function emulatedIdentity(n: number, config: Pick<EmulatorConfig, "cnumEvery" | "pathPrefix">): EmulatedIdentity {
  const operator = EMULATED_OPERATORS[(n - 1) % EMULATED_OPERATORS.length] ?? EMULATED_OPERATORS[0];
  const serial = String(n).padStart(7, "0");
  return {
    path: `${config.pathPrefix}platform-emu-usb-0:1.${n}:1.2`,
    imei: withLuhn(`8600000${serial}`),
    imsi: `${operator.mccmnc}00${serial.padStart(8, "0")}`,
    iccid: withLuhn(`897019900000${serial}`),
    msisdn: `7900${serial}`,
    operatorName: operator.name,
    cnum: config.cnumEvery > 0 && n % config.cnumEvery === 0,
  };
}

/**
 * Registers `config.count` emulated modems (the layer's `modems.emulator`
 * section): modems whose number AT+CNUM does not give answer the operator's
 * USSD request instead. Returns them and an undo.
 */
export function registerEmulatedModems(config: EmulatorConfig, registry: ModemRegistry = emulatorRegistry): { modems: Map<string, EmulatedModem>; unregister(): void } {
  const modems = new Map<string, EmulatedModem>();
  for (let n = 1; n <= config.count; n++) {
    const id = emulatedIdentity(n, config);
    const modem = new EmulatedModem({
      imei: id.imei,
      imsi: id.imsi,
      iccid: id.iccid,
      msisdn: id.msisdn,
      cnum: id.cnum,
      operator: id.operatorName,
      ussdNumberReply: `Vash nomer +${id.msisdn}`,
      storageSize: config.storageSize,
      echo: true,
    });
    registry.register(id.path, modem);
    modems.set(id.path, modem);
  }
  return {
    modems,
    unregister: () => {
      for (const path of modems.keys()) registry.unregister(path);
    },
  };
}
