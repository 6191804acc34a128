import { activationsConfigSchema } from "../activations/config.ts";
import { modemsConfigSchema } from "../modems/config.ts";
import type { JsonSchema } from "../plugins.ts";

/** Schemas of the core sections owned by other core folders. */
export const coreSections: { modems: JsonSchema; activations: JsonSchema } = {
  modems: modemsConfigSchema,
  activations: activationsConfigSchema as unknown as JsonSchema,
};
