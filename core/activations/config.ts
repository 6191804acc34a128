import { timerMaximum } from "../timers.ts";
import type { ActivationsConfig } from "./types.ts";

/** JSON Schema of the core `activations:` config section (ajv, with `useDefaults`). */
export const activationsConfigSchema = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    staleActivationHours: {
      type: "number",
      exclusiveMinimum: 0,
      default: 24,
      description: "Activations the marketplace never finished are closed after this many hours, with a warning and a metric.",
    },
    cancelLimit: {
      type: "integer",
      minimum: 1,
      default: 4,
      description: "Cancellations (FINISH 4) per number and service after which the number is no longer offered for that service.",
    },
    staleCheckSeconds: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: timerMaximum(1000),
      default: 60,
      description: "How often the stale-activation safety net runs.",
    },
  },
} as const;

export const defaultActivationsConfig: ActivationsConfig = {
  staleActivationHours: 24,
  cancelLimit: 4,
  staleCheckSeconds: 60,
};

export function resolveActivationsConfig(config: Partial<ActivationsConfig> | undefined): ActivationsConfig {
  return { ...defaultActivationsConfig, ...(config ?? {}) };
}
