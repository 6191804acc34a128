import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { JsonSchema, PluginDefinition } from "../plugins.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
const validators = new WeakMap<object, ValidateFunction>();

/**
 * The compiled validator of `schema()`, once per `owner` (the core sections,
 * a plugin's definition). Throws ajv's error when the schema itself is invalid.
 */
export function validatorFor(owner: object, schema: () => JsonSchema): ValidateFunction {
  let validate = validators.get(owner);
  if (!validate) {
    validate = ajv.compile(schema());
    validators.set(owner, validate);
  }
  return validate;
}

/** A plugin's schema as its section is checked: its own keys plus `enabled`, unknown keys refused. */
export function pluginSectionSchema(definition: PluginDefinition): JsonSchema {
  return {
    ...definition.configSchema,
    type: "object",
    additionalProperties: (definition.configSchema.additionalProperties as boolean | undefined) ?? false,
    properties: { ...((definition.configSchema.properties as object | undefined) ?? {}), enabled: { type: "boolean" } },
  };
}

/** `/plugins/onlinesim/masks/2` → `plugins.onlinesim.masks[2]` */
export function formatPath(pointer: string, prefix = ""): string {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let path = prefix;
  for (const part of parts) {
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else path += path ? `.${part}` : part;
  }
  return path;
}

/** One line per ajv error: `path: message`. */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ""): string[] {
  const lines: string[] = [];
  for (const error of errors ?? []) {
    const at = formatPath(error.instancePath, prefix);
    const join = (key: string) => (at ? `${at}.${key}` : key);
    switch (error.keyword) {
      case "additionalProperties":
        lines.push(`${join(String(error.params.additionalProperty))}: unknown key`);
        break;
      case "required":
        lines.push(`${join(String(error.params.missingProperty))}: is required`);
        break;
      case "enum":
        lines.push(`${at || "(root)"}: must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`);
        break;
      case "if":
        break;
      default:
        lines.push(`${at || "(root)"}: ${error.message ?? "is invalid"}`);
    }
  }
  return [...new Set(lines)];
}
