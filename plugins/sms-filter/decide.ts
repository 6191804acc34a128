/**
 * The decision for one SMS on an activation, from a compiled rule set.
 * Order, first answer wins (see README.md for the why):
 *
 *  1. the sender is one of the activation's service → forward (own-service)
 *                                                     (a sender shared with other
 *                                                     services: their text drops it)
 *  2. the sender is another known service's        → drop other-service:<code>
 *                                                     (`ot`: forward unless otRefuses lists it)
 *  3. the sender is an operator / spam sender       → drop spam
 *  4. the text is the activation's service's        → forward (own-service)
 *  5. the text is spam and carries no code          → drop spam
 *  6. the text is another known service's           → drop other-service:<code> (`ot`: as 2.)
 *  7. the activation is `ot`                        → forward (ot)
 *  8. nothing matched: the `unmatched` policy       → forward (unmatched-code / unmatched)
 *                                                     or drop no-match
 */
import { knownService } from "../../core/services.ts";
import type { CompiledRules, CompiledService } from "./rules.ts";
import { normaliseSender } from "./rules.ts";

export type UnmatchedPolicy = "forward-if-code" | "forward" | "drop";

export interface FilterOptions {
  unmatched: UnmatchedPolicy;
  /** Known services (codes) an `ot` activation does not receive; it receives every other non-spam SMS. */
  otRefuses: ReadonlySet<string>;
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

function textNames(rules: CompiledRules, code: string, text: string): boolean {
  const rule = rules.byCode.get(code) as CompiledService | undefined;
  return rule !== undefined && anyMatch(rule.texts, text);
}

/** The services whose senders match `sender`: exact ones in file order, then patterns. */
function senderServices(rules: CompiledRules, sender: string): readonly string[] {
  const exact = rules.senderExact.get(normaliseSender(sender));
  let found: string[] | undefined;
  for (let i = 0; i < rules.senderPatterns.length; i++) {
    const { pattern, code } = rules.senderPatterns[i] as { pattern: RegExp; code: string };
    if (!pattern.test(sender)) continue;
    found ??= [...(exact ?? [])];
    if (!found.includes(code)) found.push(code);
  }
  return found ?? exact ?? NONE;
}

const NONE: readonly string[] = [];

export function decide(rules: CompiledRules, options: FilterOptions, sender: string, text: string, activationService: string): Verdict {
  const service = activationService.toLowerCase();
  const own = rules.codes.get(service);
  const isAnyOther = (own ?? knownService(service)) === ANY_OTHER;
  const foreign = (code: string): Verdict => (isAnyOther && !options.otRefuses.has(code) ? FORWARD_OT : other(code));

  // 1–2: the sender says which service it is. A sender several services use
  // (a short code) says only "one of these": the text picks between them.
  const bySender = senderServices(rules, sender);
  if (bySender.length > 0) {
    const ownSender = own !== undefined && bySender.includes(own);
    if (ownSender && (bySender.length === 1 || textNames(rules, own, text))) return FORWARD_OWN;
    const named = bySender.find((code) => code !== own && textNames(rules, code, text));
    if (named !== undefined) return foreign(named);
    if (ownSender) return FORWARD_OWN;
    return foreign(bySender[0] as string);
  }

  // 3: operators and spam senders.
  if (rules.spamSenderExact.has(normaliseSender(sender)) || anyMatch(rules.spamSenderPatterns, sender)) return DROP_SPAM;

  // 4: the text names the activation's service.
  if (own !== undefined && textNames(rules, own, text)) return FORWARD_OWN;

  // 5: spam texts, unless the SMS carries a code: it is not from an operator
  // (step 3), and a code dropped is a sale lost while an advert forwarded costs little.
  const carriesCode = hasCode(text);
  if (!carriesCode && anyMatch(rules.spamTexts, text)) return DROP_SPAM;

  // 6: the text names another known service.
  for (let i = 0; i < rules.services.length; i++) {
    const candidate = rules.services[i] as CompiledService;
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
      return carriesCode ? FORWARD_UNMATCHED_CODE : DROP_NO_MATCH;
  }
}
