import { Ajv } from "ajv";
import { SimhiveError } from "../errors.ts";
import type { JsonSchema } from "../plugins.ts";
import { timerMaximum } from "../timers.ts";

/** Per port (exact path or glob) settings. */
export interface PortOverride {
  baudRate?: number;
  /** SIM PIN, given when the SIM asks for it. */
  pin?: string;
  /** Leave this port alone (e.g. a modem's second AT interface). */
  disabled?: boolean;
  /** The number of the SIM in this port, when it cannot be learned. */
  msisdn?: string;
  /** Where uhubctl finds this modem's hub port for a power cycle. */
  uhubctl?: { hub: string; port: number };
}

export interface UssdNumberRequest {
  /** The USSD code, e.g. `*205#`. */
  request: string;
  /** A regular expression whose first group (or whole match) holds the number. */
  pattern: string;
}

export interface EmulatorConfig {
  /** How many emulated modems to register (deterministic IMEIs, ICCIDs, numbers; russian operators). */
  count: number;
  /** SIM message slots per modem. */
  storageSize: number;
  /** Every n-th modem answers AT+CNUM; the others need USSD (0: none answers CNUM). */
  cnumEvery: number;
  /** Path prefix of the emulated ports. */
  pathPrefix: string;
}

export interface ModemsConfig {
  ports: string[];
  baudRate: number;
  /** Preferred message storage for AT+CPMS (mem1, mem2, mem3). */
  storage: "SM" | "ME" | "MT";
  sweepSeconds: number;
  multipartTimeoutSeconds: number;
  pingSeconds: number;
  rescanSeconds: number;
  /** How long a vanished modem is kept as `absent` before `modem.removed`. */
  absentSeconds: number;
  commandTimeoutSeconds: number;
  probeConcurrency: number;
  /** Upper bound of the recovery backoff. */
  maxBackoffSeconds: number;
  overrides: Record<string, PortOverride>;
  /** ICCID → msisdn (digits with country code). */
  numbers: Record<string, string>;
  /** Operator → USSD request for the own number; merged over the built-in table. */
  ussd: Record<string, UssdNumberRequest>;
  /** ICCID → country/operator, overriding the MCC/MNC table. */
  operators: Record<string, { country?: string; operator?: string }>;
  emulator?: EmulatorConfig;
  uhubctl?: { command: string; args: string[]; timeoutSeconds: number };
}

/** Any subset of ModemsConfig; the rest takes its default. */
export type ModemsConfigInput = Partial<Omit<ModemsConfig, "emulator" | "uhubctl">> & {
  emulator?: Partial<EmulatorConfig> & { count: number };
  uhubctl?: Partial<NonNullable<ModemsConfig["uhubctl"]>>;
};

/**
 * The built-in own-number USSD requests. Replies are free text ("Vash nomer
 * +79161234567"); the default pattern takes the first phone-number-like run.
 */
export const DEFAULT_USSD: Readonly<Record<string, UssdNumberRequest>> = {
  mts: { request: "*111*0887#", pattern: "(\\+?\\d[\\d \\-()]{9,16}\\d)" },
  megafon: { request: "*205#", pattern: "(\\+?\\d[\\d \\-()]{9,16}\\d)" },
  beeline: { request: "*110*10#", pattern: "(\\+?\\d[\\d \\-()]{9,16}\\d)" },
  tele2: { request: "*201#", pattern: "(\\+?\\d[\\d \\-()]{9,16}\\d)" },
  yota: { request: "*103#", pattern: "(\\+?\\d[\\d \\-()]{9,16}\\d)" },
};

const msisdn = { type: "string", pattern: "^\\+?\\d{6,15}$" };

/** JSON Schema (draft-07) of the `modems` config section, with defaults. */
export const modemsConfigSchema: JsonSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  additionalProperties: false,
  properties: {
    ports: {
      type: "array",
      items: { type: "string", minLength: 1 },
      default: ["/dev/serial/by-path/*"],
      description: "Globs of candidate serial ports; each is probed with AT to find the AT interface of a modem.",
    },
    baudRate: { type: "integer", minimum: 300, default: 115200, description: "Serial speed of the AT ports (USB modems ignore it; UART ones need it right)." },
    storage: { enum: ["SM", "ME", "MT"], default: "SM", description: "Message storage set with AT+CPMS for reading, writing and receiving." },
    sweepSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 30, description: "Storage sweep (AT+CMGL=4) period: finds SMS whose +CMTI was lost." },
    multipartTimeoutSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 600, description: "A concatenated SMS missing parts this long is released marked incomplete." },
    pingSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 30, description: "Health ping period (AT+CSQ, AT+CREG?)." },
    rescanSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 60, description: "Periodic port re-scan, in addition to udev/inotify changes." },
    absentSeconds: { type: "number", minimum: 0, default: 120, description: "A modem whose port vanished is `absent` this long before it is removed (a replug within it keeps its state)." },
    commandTimeoutSeconds: { type: "number", minimum: 0.1, maximum: timerMaximum(1000), default: 10, description: "An AT command without a final result code by then has failed." },
    probeConcurrency: { type: "integer", minimum: 1, default: 8, description: "Candidate ports probed with AT at once." },
    maxBackoffSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 300, description: "Cap of the retry backoff of a failed modem (1 s, 2 s, 4 s ...)." },
    overrides: {
      type: "object",
      default: {},
      description: "Per port path or glob.",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: {
          baudRate: { type: "integer", minimum: 300 },
          pin: { type: "string", pattern: "^\\d{4,8}$" },
          disabled: { type: "boolean" },
          msisdn,
          uhubctl: {
            type: "object",
            additionalProperties: false,
            required: ["hub", "port"],
            properties: { hub: { type: "string", minLength: 1 }, port: { type: "integer", minimum: 1 } },
          },
        },
      },
    },
    numbers: {
      type: "object",
      default: {},
      description: "ICCID → number, for SIMs whose number neither AT+CNUM nor USSD gives.",
      propertyNames: { pattern: "^[0-9]{18,20}[Ff]?$" },
      additionalProperties: msisdn,
    },
    ussd: {
      type: "object",
      default: {},
      description: "Operator → USSD request and reply pattern for the own number (merged over the built-in table).",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["request", "pattern"],
        properties: { request: { type: "string", pattern: "^[*#0-9]+$" }, pattern: { type: "string", minLength: 1 } },
      },
    },
    operators: {
      type: "object",
      default: {},
      description: "ICCID → { country, operator } in the marketplace's names, overriding the MCC/MNC table.",
      propertyNames: { pattern: "^[0-9]{18,20}[Ff]?$" },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: { country: { type: "string", minLength: 1 }, operator: { type: "string", minLength: 1 } },
      },
    },
    emulator: {
      type: "object",
      additionalProperties: false,
      required: ["count"],
      description: "Run on N emulated modems (no hardware): demo, tests, bench.",
      properties: {
        count: { type: "integer", minimum: 0, maximum: 512 },
        storageSize: { type: "integer", minimum: 1, maximum: 255, default: 30 },
        cnumEvery: { type: "integer", minimum: 0, default: 2 },
        pathPrefix: { type: "string", minLength: 1, default: "/emu/by-path/" },
      },
    },
    uhubctl: {
      type: "object",
      additionalProperties: false,
      description: "USB power cycle as the last recovery step, for ports with an `uhubctl` override.",
      properties: {
        command: { type: "string", minLength: 1, default: "uhubctl" },
        args: { type: "array", items: { type: "string" }, default: ["-l", "{hub}", "-p", "{port}", "-a", "cycle", "-d", "3"] },
        timeoutSeconds: { type: "number", minimum: 1, maximum: timerMaximum(1000), default: 30, description: "A power cycle still running after this is killed." },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(modemsConfigSchema);

/** Validates and fills defaults (a copy); throws SIMHIVE_ERR_CONFIG listing every error. */
export function resolveModemsConfig(input: ModemsConfigInput | Record<string, unknown> = {}): ModemsConfig {
  const config = structuredClone(input) as Record<string, unknown>;
  if (!validate(config)) {
    const details = (validate.errors ?? []).map((e) => `modems${e.instancePath.replace(/\//g, ".")}: ${e.message ?? "invalid"}`);
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", "invalid modems config", { details });
  }
  return config as unknown as ModemsConfig;
}

/** The override for `path`: exact key first, then every matching glob merged in key order. */
export function overrideFor(config: ModemsConfig, path: string, matches: (pattern: string, path: string) => boolean): PortOverride {
  const result: PortOverride = {};
  for (const [pattern, override] of Object.entries(config.overrides)) {
    if (pattern !== path && matches(pattern, path)) Object.assign(result, override);
  }
  const exact = config.overrides[path];
  if (exact) Object.assign(result, exact);
  return result;
}
