/**
 * The factories the hub builds its modem layer and activations with, in one
 * place, so the hub depends on their contracts (core/modems/types.ts,
 * core/activations/types.ts) and this file alone names the implementations.
 */
export { createActivations } from "./activations/index.ts";
export { createModemLayer } from "./modems/index.ts";
