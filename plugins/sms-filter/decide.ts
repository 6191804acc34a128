/**
 * The decision for one SMS on an activation, from a compiled rule set.
 * Order, first answer wins (see README.md for the why):
 *
 *  1. the sender is one of the activation's service → forward (own-service)
 *  2. the sender is another known service's        → drop other-service:<code>
 *                                                     (`ot`: forward if listed in otAllows)
 *  3. the sender is an operator / spam sender       → drop spam
 *  4. the text is the activation's service's        → forward (own-service)
 *  5. the text is spam                              → drop spam
 *  6. the text is another known service's           → drop other-service:<code> (`ot`: as 2.)
 *  7. the activation is `ot`                        → forward (ot)
 *  8. nothing matched: the `unmatched` policy       → forward (unmatched-code / unmatched)
 *                                                     or drop no-match
 */
import type { CompiledRules } from "./rules.ts";
import { normaliseSender } from "./rules.ts";

export type UnmatchedPolicy = "forward-if-code" | "forward" | "drop";

export interface FilterOptions {
  unmatched: UnmatchedPolicy;
  /** Known services an `ot` activation may still receive. */
  otAllows: ReadonlySet<string>;
}

export interface Verdict {
  action: "forward" | "drop";
  reason: string;
}

/** The "any other" service code. */
export const ANY_OTHER = "ot";

/** A verification code: 4–8 digits, or 3+3 split by a dash or a space (123-456). */
const CODE = /(?<!\d)(?:\d{4,8}|\d{3}[- ]\d{3})(?!\d)/u;

export function hasCode(text: string): boolean {
  return CODE.test(text);
}

const FORWARD_OWN: Verdict = { action: "forward", reason: "own-service" };
const FORWARD_OT: Verdict = { action: "forward", reason: "ot" };
const FORWARD_UNMATCHED_CODE: Verdict = { action: "forward", reason: "unmatched-code" };
const FORWARD_UNMATCHED: Verdict = { action: "forward", reason: "unmatched" };
const DROP_SPAM: Verdict = { action: "drop", reason: "spam" };
const DROP_NO_MATCH: Verdict = { action: "drop", reason: "no-match" };
const otherService = new Map<string, Verdict>();

function other(code: string): Verdict {
  let verdict = otherService.get(code);
  if (!verdict) {
    verdict = { action: "drop", reason: `other-service:${code}` };
    otherService.set(code, verdict);
  }
  return verdict;
}

function anyMatch(patterns: readonly RegExp[], text: string): boolean {
  for (let i = 0; i < patterns.length; i++) if ((patterns[i] as RegExp).test(text)) return true;
  return false;
}

export function decide(rules: CompiledRules, options: FilterOptions, sender: string, text: string, activationService: string): Verdict {
  const service = activationService.toLowerCase();
  const own = rules.codes.get(service);
  const isAnyOther = service === ANY_OTHER;
  const foreign = (code: string): Verdict => (isAnyOther && options.otAllows.has(code) ? FORWARD_OT : other(code));

  // 1–2: the sender says which service it is.
  const senderKey = normaliseSender(sender);
  const exact = rules.senderExact.get(senderKey);
  let senderOther: string | undefined;
  if (exact) {
    if (own !== undefined && exact.includes(own)) return FORWARD_OWN;
    senderOther = exact[0];
  }
  for (let i = 0; i < rules.senderPatterns.length; i++) {
    const { pattern, code } = rules.senderPatterns[i] as { pattern: RegExp; code: string };
    if (!pattern.test(sender)) continue;
    if (code === own) return FORWARD_OWN;
    senderOther ??= code;
  }
  if (senderOther !== undefined) return foreign(senderOther);

  // 3: operators and spam senders.
  if (rules.spamSenderExact.has(senderKey) || anyMatch(rules.spamSenderPatterns, sender)) return DROP_SPAM;

  // 4: the text names the activation's service.
  if (own !== undefined) {
    const ownRule = rules.byCode.get(own);
    if (ownRule && anyMatch(ownRule.texts, text)) return FORWARD_OWN;
  }

  // 5: spam texts.
  if (anyMatch(rules.spamTexts, text)) return DROP_SPAM;

  // 6: the text names another known service.
  for (let i = 0; i < rules.services.length; i++) {
    const candidate = rules.services[i] as { code: string; texts: readonly RegExp[] };
    if (candidate.code !== own && anyMatch(candidate.texts, text)) return foreign(candidate.code);
  }

  // 7–8.
  if (isAnyOther) return FORWARD_OT;
  switch (options.unmatched) {
    case "forward":
      return FORWARD_UNMATCHED;
    case "drop":
      return DROP_NO_MATCH;
    default:
      return hasCode(text) ? FORWARD_UNMATCHED_CODE : DROP_NO_MATCH;
  }
}
