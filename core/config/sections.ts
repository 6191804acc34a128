import type { JsonSchema } from "../plugins.ts";

/**
 * Schemas of the core sections owned by other core folders. Until those
 * folders export their own, these accept only the documented keys.
 */
export const coreSections: { modems: JsonSchema; activations: JsonSchema } = {
  modems: {
    type: "object",
    additionalProperties: false,
    properties: {
      ports: { type: "array", items: { type: "string", minLength: 1 }, default: ["/dev/serial/by-path/*"] },
    },
  },
  activations: {
    type: "object",
    additionalProperties: false,
    properties: {
      staleActivationHours: { type: "number", exclusiveMinimum: 0, default: 24 },
      cancelLimit: { type: "integer", minimum: 1, default: 4 },
    },
  },
};
