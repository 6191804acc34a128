/**
 * The sms-filter rule set: its file format, its checks (every problem with
 * its path) and its compiled form. Patterns are compiled once, here; deciding
 * an SMS compiles nothing.
 *
 * Format (YAML or JSON):
 *   spam:     { senders: [...], texts: [...] }
 *   services: { <code>: { name?, aliases?: [...], senders: [...], texts: [...] } }
 * Senders: a case-insensitive exact name ("VK", "900"), or "/regex/flags".
 * Texts: regular expressions, compiled with the `i` and `u` flags.
 * In both, `\b` and `\B` are word boundaries for every script (JavaScript's
 * own are ASCII-only: `\bАкция` would never match).
 */
import { serviceNames } from "../../core/services.ts";

export interface RuleLists {
  senders?: string[];
  texts?: string[];
}

export interface ServiceRule extends RuleLists {
  name?: string;
  /** Other codes marketplaces use for the same service (`telegram` for `tg`). */
  aliases?: string[];
}

export interface RuleSet {
  spam?: RuleLists;
  services?: Record<string, ServiceRule>;
}

/** A service rule in config: extends the file's rule, or replaces it with `replace: true`. */
export interface ServiceOverride extends ServiceRule {
  replace?: boolean;
}

export interface SpamOverride extends RuleLists {
  replace?: boolean;
}

const SERVICE_CODE = /^[a-z0-9_-]{1,40}$/i;
const SENDER_REGEX = /^\/(.+)\/([a-z]*)$/s;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Compiles a sender entry: exact (lower-cased) or a regex. */
export function compileSender(entry: string): { exact: string } | { pattern: RegExp } {
  const match = SENDER_REGEX.exec(entry);
  if (!match) return { exact: normaliseSender(entry) };
  const flags = new Set([...(match[2] ?? "")].filter((f) => f !== "g" && f !== "y"));
  flags.add("i");
  flags.add("u");
  return { pattern: compilePattern(match[1] as string, [...flags].join("")) };
}

export function compileText(entry: string): RegExp {
  return compilePattern(entry, "iu");
}

/** A letter, combining mark, digit or `_`, in any script. */
const WORD_CHAR = "[\\p{L}\\p{M}\\p{N}_]";
const WORD_BOUNDARY = `(?:(?<=${WORD_CHAR})(?!${WORD_CHAR})|(?<!${WORD_CHAR})(?=${WORD_CHAR}))`;
const NOT_WORD_BOUNDARY = `(?:(?<=${WORD_CHAR})(?=${WORD_CHAR})|(?<!${WORD_CHAR})(?!${WORD_CHAR}))`;

/**
 * `source` with `\b` / `\B` outside character classes (inside, `[\b]` is a
 * backspace) replaced by boundaries between word and non-word characters of
 * any script. The result needs the `u` flag.
 */
export function unicodeWordBoundaries(source: string): string {
  let result = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (char === "\\") {
      const next = source[i + 1] ?? "";
      i++;
      if (!inClass && next === "b") result += WORD_BOUNDARY;
      else if (!inClass && next === "B") result += NOT_WORD_BOUNDARY;
      else result += char + next;
      continue;
    }
    if (char === "[") inClass = true;
    else if (char === "]") inClass = false;
    result += char;
  }
  return result;
}

function compilePattern(source: string, flags: string): RegExp {
  // Compiled as written first, so that a syntax error quotes the pattern the operator wrote.
  const asWritten = new RegExp(source, flags);
  return /\\[bB]/.test(source) ? new RegExp(unicodeWordBoundaries(source), flags) : asWritten;
}

/** Sender as matched: trimmed, inner whitespace collapsed, lower case. */
export function normaliseSender(sender: string): string {
  return sender.trim().replace(/\s+/g, " ").toLowerCase();
}

function patternProblem(compile: () => unknown): string | undefined {
  try {
    compile();
    return undefined;
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
}

function checkStrings(value: unknown, path: string, problems: string[], kind: "senders" | "texts" | "aliases"): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    problems.push(`${path}: must be a list`);
    return;
  }
  value.forEach((entry, index) => {
    const at = `${path}[${index}]`;
    if (typeof entry !== "string" || entry.trim().length === 0) {
      problems.push(`${at}: must be a non-empty string`);
      return;
    }
    if (kind === "aliases") {
      if (!SERVICE_CODE.test(entry)) problems.push(`${at}: "${entry}" is not a service code (letters, digits, "_" and "-")`);
      return;
    }
    const problem = patternProblem(() => (kind === "senders" ? compileSender(entry) : compileText(entry)));
    if (problem) problems.push(`${at}: ${problem}`);
  });
}

const LIST_KEYS = new Set(["senders", "texts"]);
const SERVICE_KEYS = new Set(["name", "aliases", "senders", "texts"]);

function checkLists(value: unknown, path: string, problems: string[], allowed: Set<string>): void {
  if (!isMapping(value)) {
    problems.push(`${path}: must be a mapping`);
    return;
  }
  for (const key of Object.keys(value)) if (!allowed.has(key)) problems.push(`${path}.${key}: unknown key`);
  checkStrings(value.senders, `${path}.senders`, problems, "senders");
  checkStrings(value.texts, `${path}.texts`, problems, "texts");
  if (allowed.has("aliases")) checkStrings(value.aliases, `${path}.aliases`, problems, "aliases");
  if (allowed.has("name") && value.name !== undefined && typeof value.name !== "string") problems.push(`${path}.name: must be a string`);
  if (allowed.has("replace") && value.replace !== undefined && typeof value.replace !== "boolean") problems.push(`${path}.replace: must be true or false`);
}

/** Problems of a rules file's content, each `<base>.<path>: message`. */
export function ruleSetProblems(value: unknown, base: string): string[] {
  const problems: string[] = [];
  if (!isMapping(value)) return [`${base}: must be a mapping with "spam" and "services"`];
  for (const key of Object.keys(value)) if (key !== "spam" && key !== "services") problems.push(`${base}.${key}: unknown key`);
  if (value.spam !== undefined) checkLists(value.spam, `${base}.spam`, problems, LIST_KEYS);
  if (value.services !== undefined) checkServices(value.services, `${base}.services`, problems, SERVICE_KEYS);
  return problems;
}

/** Problems of the config's `rules` (service overrides) and `spam`. */
export function overrideProblems(rules: unknown, spam: unknown, base: string): string[] {
  const problems: string[] = [];
  if (rules !== undefined) checkServices(rules, `${base}.rules`, problems, new Set([...SERVICE_KEYS, "replace"]));
  if (spam !== undefined) checkLists(spam, `${base}.spam`, problems, new Set([...LIST_KEYS, "replace"]));
  return problems;
}

function checkServices(value: unknown, path: string, problems: string[], allowed: Set<string>): void {
  if (!isMapping(value)) {
    problems.push(`${path}: must be a mapping of service code → rule`);
    return;
  }
  for (const [code, rule] of Object.entries(value)) {
    if (!SERVICE_CODE.test(code)) problems.push(`${path}.${code}: "${code}" is not a service code (letters, digits, "_" and "-")`);
    checkLists(rule, `${path}.${code}`, problems, allowed);
  }
}

/** The file's rules with the config's overrides applied (extend, or replace with `replace: true`). */
export function mergeRules(file: RuleSet, rules: Record<string, ServiceOverride> = {}, spam?: SpamOverride): RuleSet {
  const services: Record<string, ServiceRule> = {};
  for (const [code, rule] of Object.entries(file.services ?? {})) services[code.toLowerCase()] = { ...rule };
  for (const [rawCode, override] of Object.entries(rules)) {
    const code = rawCode.toLowerCase();
    const { replace, ...rule } = override;
    const base = replace ? {} : (services[code] ?? {});
    services[code] = {
      ...(rule.name ?? base.name ? { name: rule.name ?? base.name } : {}),
      aliases: [...(base.aliases ?? []), ...(rule.aliases ?? [])],
      senders: [...(base.senders ?? []), ...(rule.senders ?? [])],
      texts: [...(base.texts ?? []), ...(rule.texts ?? [])],
    };
  }
  const baseSpam = spam?.replace ? {} : (file.spam ?? {});
  return {
    spam: { senders: [...(baseSpam.senders ?? []), ...(spam?.senders ?? [])], texts: [...(baseSpam.texts ?? []), ...(spam?.texts ?? [])] },
    services,
  };
}

export interface CompiledService {
  code: string;
  texts: readonly RegExp[];
}

/** The compiled rule set; immutable, swapped as a whole on reload. */
export interface CompiledRules {
  /** Services in file order (the first to match names an SMS). */
  services: readonly CompiledService[];
  /** Canonical code → its compiled rule. */
  byCode: ReadonlyMap<string, CompiledService>;
  /** Code or alias (lower case) → canonical code. */
  codes: ReadonlyMap<string, string>;
  /** Exact sender (normalised) → services, in file order. */
  senderExact: ReadonlyMap<string, readonly string[]>;
  senderPatterns: readonly { pattern: RegExp; code: string }[];
  spamSenderExact: ReadonlySet<string>;
  spamSenderPatterns: readonly RegExp[];
  spamTexts: readonly RegExp[];
}

/** Compiles a checked rule set. An alias that names another service is an error. */
export function compileRules(rules: RuleSet): CompiledRules {
  const services: CompiledService[] = [];
  const codes = new Map<string, string>();
  const senderExact = new Map<string, string[]>();
  const senderPatterns: { pattern: RegExp; code: string }[] = [];
  for (const [rawCode, rule] of Object.entries(rules.services ?? {})) {
    const code = rawCode.toLowerCase();
    codes.set(code, code);
    services.push({ code, texts: (rule.texts ?? []).map(compileText) });
    for (const entry of rule.senders ?? []) {
      const sender = compileSender(entry);
      if ("exact" in sender) {
        const list = senderExact.get(sender.exact) ?? [];
        if (!list.includes(code)) list.push(code);
        senderExact.set(sender.exact, list);
      } else {
        senderPatterns.push({ pattern: sender.pattern, code });
      }
    }
  }
  for (const [rawCode, rule] of Object.entries(rules.services ?? {})) {
    for (const alias of rule.aliases ?? []) {
      const key = alias.toLowerCase();
      const existing = codes.get(key);
      if (existing !== undefined && existing !== rawCode.toLowerCase()) {
        throw new TypeError(`services.${rawCode}.aliases: "${alias}" already names service "${existing}"`);
      }
      codes.set(key, rawCode.toLowerCase());
    }
  }
  // The names core/services.ts knows for a code (`telegram` → `tg`) are aliases too, unless the rules give them another meaning.
  for (const { code } of services) {
    for (const name of serviceNames(code)) if (!codes.has(name)) codes.set(name, code);
  }
  const spamSenderExact = new Set<string>();
  const spamSenderPatterns: RegExp[] = [];
  for (const entry of rules.spam?.senders ?? []) {
    const sender = compileSender(entry);
    if ("exact" in sender) spamSenderExact.add(sender.exact);
    else spamSenderPatterns.push(sender.pattern);
  }
  return {
    services,
    byCode: new Map(services.map((s) => [s.code, s])),
    codes,
    senderExact,
    senderPatterns,
    spamSenderExact,
    spamSenderPatterns,
    spamTexts: (rules.spam?.texts ?? []).map(compileText),
  };
}
