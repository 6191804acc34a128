/**
 * setTimeout and setInterval take at most 2^31-1 ms; a longer delay fires
 * after 1 ms (Node's TimeoutOverflowWarning). Stateless: config schemas in
 * core and in plugins take their `maximum` from here.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The largest value of a timer key counted in units of `unitMs` (1000 for
 * seconds, 60_000 for minutes): the schema's `maximum` for every key that
 * ends up in a timer, so a config cannot overflow it.
 */
export function timerMaximum(unitMs: number): number {
  return Math.floor(MAX_TIMER_MS / unitMs);
}
