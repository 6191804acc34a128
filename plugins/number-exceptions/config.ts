import type { JsonSchema } from "../../core/plugins.ts";
import { SERVICE_CODES, knownService } from "../../core/services.ts";
import { MASK_MAX_LENGTH, MASK_PATTERN, MaskSet, maskProblem } from "./masks.ts";

export interface MaskLists {
  /** Masks that exclude a number for every service. */
  masks: string[];
  /**
   * Masks that exclude a number for one service: service code → masks. In
   * config and admin bodies a key may be a code or a name in any case
   * (`telegram`, `VK`); `maskLists` turns it into the code (core/services.ts).
   */
  serviceMasks: Record<string, string[]>;
}

export interface NumberExceptionsConfig extends MaskLists {
  /** Bearer token of the admin endpoint; the endpoint is off without one. */
  adminToken?: string;
  /** Serve the admin endpoint to other hosts than loopback (off by default). */
  adminAllowRemote?: boolean;
}

const maskSchema = { type: "string", minLength: 1, maxLength: MASK_MAX_LENGTH, pattern: MASK_PATTERN };
const maskListSchema = { type: "array", items: maskSchema, maxItems: 10_000 };
const serviceMasksSchema = {
  type: "object",
  description: "Service code or name (tg, telegram, VK ...) → masks excluding numbers for that service only.",
  propertyNames: { type: "string", minLength: 1, maxLength: 64 },
  additionalProperties: maskListSchema,
};

export const configSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    masks: { ...maskListSchema, default: [], description: "Masks excluding numbers for every service: digits, * (any digits), ? (one digit); plain digits are a prefix." },
    serviceMasks: { ...serviceMasksSchema, default: {} },
    adminToken: { type: "string", minLength: 16, description: "Bearer token of the /number-exceptions/masks admin endpoint; the endpoint is off without one." },
    adminAllowRemote: { type: "boolean", default: false, description: "Serve the admin endpoint to other hosts and through proxies; local requests only (loopback socket, no X-Forwarded-For) otherwise." },
  },
};

/** The schema of the admin endpoint's PUT body. */
export const maskListsSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["masks"],
  properties: { masks: maskListSchema, serviceMasks: serviceMasksSchema },
};

/**
 * Every problem of the mask lists in `value`, one `path: message` line each
 * (`plugins.number-exceptions.masks[2]: ...`). The same check guards the
 * config section at start and on reload, and the admin endpoint's body.
 */
export function maskListsProblems(value: unknown, base: string): string[] {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${base}: must be a mapping`];
  const { masks, serviceMasks } = value as { masks?: unknown; serviceMasks?: unknown };
  const checkList = (list: unknown, path: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      problems.push(`${path}: must be a list of masks`);
      return;
    }
    list.forEach((mask, index) => {
      const problem = maskProblem(mask);
      if (problem) problems.push(`${path}[${index}]: ${problem}`);
    });
  };
  checkList(masks, `${base}.masks`);
  if (serviceMasks !== undefined) {
    if (typeof serviceMasks !== "object" || serviceMasks === null || Array.isArray(serviceMasks)) {
      problems.push(`${base}.serviceMasks: must be a mapping of service → masks`);
    } else {
      for (const [service, list] of Object.entries(serviceMasks)) {
        checkList(list, `${base}.serviceMasks.${service}`);
      }
    }
  }
  return problems;
}

/**
 * serviceMasks keys that are no service code or name simhive knows, as
 * warnings with their path: the marketplace's list is longer than simhive's
 * table, so such a key is kept (its masks apply to requests for exactly that
 * code, lower-cased), but a typo (`telegramm`) must not pass unseen.
 */
export function unknownServiceWarnings(section: unknown, base: string): string[] {
  const { serviceMasks } = (section ?? {}) as { serviceMasks?: unknown };
  if (typeof serviceMasks !== "object" || serviceMasks === null) return [];
  return Object.keys(serviceMasks)
    .filter((service) => knownService(service) === undefined)
    .map((service) => `${base}.serviceMasks.${service}: "${service}" is no service code simhive knows (${SERVICE_CODES.join(", ")}, or their names); its masks apply only to requests for "${service.trim().toLowerCase()}"`);
}

/** The config check core can call after ajv: problems with their config path. */
export function validateConfig(section: unknown, base = "plugins.number-exceptions"): string[] {
  const problems = maskListsProblems(section, base);
  const { adminToken } = (section ?? {}) as { adminToken?: unknown };
  if (adminToken !== undefined && (typeof adminToken !== "string" || adminToken.length < 16)) {
    problems.push(`${base}.adminToken: must be a string of at least 16 characters`);
  }
  return problems;
}

/**
 * Checked lists as the hook uses them: copies, with each serviceMasks key
 * turned into its service code (`Telegram` → `tg`, the code the marketplace
 * plugin puts in a request); a code listed under two names gets both lists.
 */
export function maskLists(value: { masks?: string[]; serviceMasks?: Record<string, string[]> }): MaskLists {
  const serviceMasks: Record<string, string[]> = {};
  for (const [service, list] of Object.entries(value.serviceMasks ?? {})) {
    const code = knownService(service) ?? service.trim().toLowerCase();
    serviceMasks[code] = [...(serviceMasks[code] ?? []), ...list];
  }
  return { masks: [...(value.masks ?? [])], serviceMasks };
}

/** The compiled form the hook reads: swapped as a whole, never mutated. */
export interface CompiledMasks {
  lists: MaskLists;
  all: MaskSet;
  byService: Map<string, MaskSet>;
}

export function compileMaskLists(lists: MaskLists): CompiledMasks {
  const byService = new Map<string, MaskSet>();
  for (const [service, masks] of Object.entries(lists.serviceMasks)) {
    if (masks.length > 0) byService.set(service, MaskSet.compile(masks));
  }
  return { lists, all: MaskSet.compile(lists.masks), byService };
}

/** A stable fingerprint of the config file's mask lists (an admin override is tied to it). */
export function listsFingerprint(lists: MaskLists): string {
  const services = Object.keys(lists.serviceMasks).sort();
  return JSON.stringify([lists.masks, services.map((s) => [s, lists.serviceMasks[s]])]);
}
