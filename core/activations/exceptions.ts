/**
 * Request exceptions: number prefixes a marketplace asks never to be given
 * for one request (Onlinesim's `exceptionPhoneSet`). Core owns them, so a
 * partner's exclusion holds whatever plugins are enabled; number-exceptions
 * adds the operator's own masks on top.
 */

/**
 * The digit prefixes in `entries` as a marketplace sends them: strings or
 * integers, maybe with `+`, spaces or dashes. An entry with no digit at all is
 * ignored (an empty prefix would exclude every number for a typo); so are
 * values that are neither strings nor non-negative safe integers.
 */
export function normaliseExceptionPrefixes(entries: readonly unknown[]): string[] {
  const prefixes: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string" && typeof entry !== "number" && typeof entry !== "bigint") continue;
    if (typeof entry === "number" && (!Number.isSafeInteger(entry) || entry < 0)) continue;
    const digits = String(entry).replace(/\D+/g, "");
    if (digits.length > 0) prefixes.push(digits);
  }
  return prefixes;
}

/** True when `msisdn` starts with one of the (normalised) `prefixes`. */
export function excepted(msisdn: string, prefixes: readonly string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) if (msisdn.startsWith(prefixes[i] as string)) return true;
  return false;
}
