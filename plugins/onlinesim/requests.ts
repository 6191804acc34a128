import { Ajv, type ValidateFunction } from "ajv";

/**
 * Request validation (ajv). Onlinesim sends numeric fields as numbers or as
 * strings (seed 001 types FINISH's `status` as TEXT, its examples as numbers),
 * so both are accepted and converted here; everything else is rejected with
 * the field named.
 */
const numeric = { anyOf: [{ type: "number" }, { type: "string", pattern: "^\\s*-?\\d+(\\.\\d+)?\\s*$" }] };
const integer = { anyOf: [{ type: "integer" }, { type: "string", pattern: "^\\s*-?\\d+\\s*$" }] };
const name = { type: "string", maxLength: 64 };

const getNumberSchema = {
  type: "object",
  required: ["service"],
  properties: {
    action: { type: "string" },
    key: { type: "string" },
    country: name,
    operator: name,
    service: { type: "string", minLength: 1, maxLength: 64 },
    sum: numeric,
    // Prefixes of numbers: integers, or strings of digits that may carry `+`, spaces and dashes.
    // Core normalises them (digits only; an entry without a digit is ignored) and applies them.
    exceptionPhoneSet: {
      type: "array",
      maxItems: 10_000,
      items: { anyOf: [{ type: "integer", minimum: 0 }, { type: "string", maxLength: 40, pattern: "^[\\d\\s+-]*$" }] },
    },
  },
};

const finishSchema = {
  type: "object",
  required: ["activationId", "status"],
  properties: {
    action: { type: "string" },
    key: { type: "string" },
    activationId: integer,
    status: integer,
    sum: numeric,
  },
};

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
const validateGetNumber: ValidateFunction = ajv.compile(getNumberSchema);
const validateFinish: ValidateFunction = ajv.compile(finishSchema);

export interface GetNumberParams {
  country?: string;
  operator?: string;
  service: string;
  sum?: number;
  /** `exceptionPhoneSet` as sent (validated); core/activations normalises and applies it. */
  exceptionPrefixes: (string | number)[];
}

export interface FinishParams {
  activationId: number;
  status: number;
  sum?: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

function errorsOf(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`.trim());
}

function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const result = typeof value === "number" ? value : Number(String(value).trim());
  return Number.isFinite(result) ? result : undefined;
}

/** Query strings give `exceptionPhoneSet` as a comma list or as repeated parameters. */
function asList(value: unknown): unknown {
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  return value;
}

export function parseGetNumber(params: Record<string, unknown>): Parsed<GetNumberParams> {
  const input = { ...params };
  if (input.exceptionPhoneSet !== undefined) input.exceptionPhoneSet = asList(input.exceptionPhoneSet);
  if (!validateGetNumber(input)) return { ok: false, errors: errorsOf(validateGetNumber) };
  const country = typeof input.country === "string" && input.country.trim() !== "" ? input.country.trim().toLowerCase() : undefined;
  const operator = typeof input.operator === "string" && input.operator.trim() !== "" ? input.operator.trim().toLowerCase() : undefined;
  const sum = toNumber(input.sum);
  const exceptionPrefixes = (input.exceptionPhoneSet as (string | number)[] | undefined) ?? [];
  return {
    ok: true,
    value: {
      service: String(input.service),
      ...(country === undefined ? {} : { country }),
      ...(operator === undefined || operator === "any" ? {} : { operator }),
      ...(sum === undefined ? {} : { sum }),
      exceptionPrefixes,
    },
  };
}

export function parseFinish(params: Record<string, unknown>): Parsed<FinishParams> {
  if (!validateFinish(params)) return { ok: false, errors: errorsOf(validateFinish) };
  const activationId = toNumber(params.activationId) as number;
  const status = toNumber(params.status) as number;
  const sum = toNumber(params.sum);
  return { ok: true, value: { activationId, status, ...(sum === undefined ? {} : { sum }) } };
}
