import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import type { JsonSchema } from "../../core/plugins.ts";
import type { FilterOptions, UnmatchedPolicy } from "./decide.ts";
import { compileRules, mergeRules, overrideProblems, ruleSetProblems, type CompiledRules, type RuleSet, type ServiceOverride, type SpamOverride } from "./rules.ts";

export interface SmsFilterConfig {
  /** `on` filters here; `off` forwards everything (the marketplace filters). */
  mode?: "on" | "off";
  /** A rules file used instead of the shipped one (same format). */
  rulesFile?: string;
  /** Per service: extends the file's rule, or replaces it with `replace: true`; new codes add services. */
  rules?: Record<string, ServiceOverride>;
  /** Extra spam senders and texts (`replace: true` drops the file's). */
  spam?: SpamOverride;
  /** What an SMS that matches nothing does on an activation of a named service. */
  unmatched?: UnmatchedPolicy;
  /**
   * Known services an `ot` ("any other") activation does not receive (codes
   * or names; `"*"` for every service in the rules). Empty by default: `ot`
   * receives everything that is not spam.
   */
  otRefuses?: string[];
}

export const SHIPPED_RULES_FILE = fileURLToPath(new URL("./rules.yaml", import.meta.url));

const patternList = { type: "array", items: { type: "string", minLength: 1 } };
const textList = { type: "array", items: { type: "string", minLength: 1, format: "regex" } };
const serviceCode = { type: "string", pattern: "^[A-Za-z0-9_-]{1,40}$" };

export const configSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    mode: { enum: ["on", "off"], default: "on", description: "on: filter here; off: forward everything (the marketplace filters) and only count." },
    rulesFile: { type: "string", minLength: 1, description: "A rules file used instead of the shipped rules.yaml (same format); re-read on SIGHUP." },
    rules: {
      type: "object",
      description: "Per service code: extends the rules file's rule (replace: true replaces it); a new code adds a service.",
      propertyNames: serviceCode,
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: {
          name: { type: "string" },
          aliases: { type: "array", items: serviceCode },
          senders: patternList,
          texts: textList,
          replace: { type: "boolean" },
        },
      },
      default: {},
    },
    spam: {
      type: "object",
      description: "Extra spam senders and texts (replace: true drops the rules file's).",
      additionalProperties: false,
      properties: { senders: patternList, texts: textList, replace: { type: "boolean" } },
    },
    unmatched: {
      enum: ["forward-if-code", "forward", "drop"],
      default: "forward-if-code",
      description: "An SMS on a named service's activation that no rule recognises: forwarded when it carries a code, always, or never.",
    },
    otRefuses: {
      type: "array",
      items: { type: "string", pattern: "^([A-Za-z0-9_-]{1,40}|\\*)$" },
      default: [],
      description: 'Known services an ot ("any other") activation does not receive ("*": every service in the rules); ot receives every non-spam SMS otherwise.',
    },
  },
};

const SECTION_KEYS = new Set(["enabled", "mode", "rulesFile", "rules", "spam", "unmatched", "otRefuses"]);

/** Checks of the config section that ajv cannot do (regex syntax as compiled, sender /regex/). */
export function validateConfig(section: unknown, base = "plugins.sms-filter"): string[] {
  if (typeof section !== "object" || section === null) return [`${base}: must be a mapping`];
  const { rules, spam, mode, unmatched, otRefuses, rulesFile } = section as Record<string, unknown>;
  const problems = overrideProblems(rules, spam, base);
  for (const key of Object.keys(section)) {
    if (key === "otAllows") problems.push(`${base}.otAllows: replaced by otRefuses (an ot activation now receives every SMS that is not spam; list the services it must not receive)`);
    else if (!SECTION_KEYS.has(key)) problems.push(`${base}.${key}: unknown key`);
  }
  if (mode !== undefined && mode !== "on" && mode !== "off") problems.push(`${base}.mode: must be "on" or "off"`);
  if (unmatched !== undefined && !["forward-if-code", "forward", "drop"].includes(unmatched as string)) {
    problems.push(`${base}.unmatched: must be "forward-if-code", "forward" or "drop"`);
  }
  if (otRefuses !== undefined && (!Array.isArray(otRefuses) || otRefuses.some((c) => typeof c !== "string"))) problems.push(`${base}.otRefuses: must be a list of service codes`);
  if (rulesFile !== undefined && (typeof rulesFile !== "string" || rulesFile.length === 0)) problems.push(`${base}.rulesFile: must be a path`);
  return problems;
}

/** Reads and checks a rules file; problems carry the file name and the path inside it. */
export async function readRuleSet(file: string): Promise<{ ruleSet?: RuleSet; problems: string[] }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return { problems: [`cannot read ${file}: ${(error as Error).message}`] };
  }
  let data: unknown;
  try {
    data = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    return { problems: [`${file}: not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`] };
  }
  const problems = ruleSetProblems(data ?? {}, file);
  return problems.length > 0 ? { problems } : { ruleSet: (data ?? {}) as RuleSet, problems };
}

export interface Prepared {
  mode: "on" | "off";
  rules: CompiledRules;
  options: FilterOptions;
  rulesFile: string;
}

/**
 * Everything a config section needs before it can be used: checked, the rules
 * file read, merged and compiled. Every problem at once, with its path.
 */
export async function prepare(section: SmsFilterConfig, base = "plugins.sms-filter"): Promise<{ prepared?: Prepared; problems: string[] }> {
  const problems = validateConfig(section, base);
  if (problems.length > 0) return { problems };
  const rulesFile = section.rulesFile ?? SHIPPED_RULES_FILE;
  const read = await readRuleSet(rulesFile);
  if (!read.ruleSet) return { problems: read.problems.map((p) => (section.rulesFile ? `${base}.rulesFile: ${p}` : p)) };
  let rules: CompiledRules;
  try {
    rules = compileRules(mergeRules(read.ruleSet, section.rules ?? {}, section.spam));
  } catch (error) {
    return { problems: [`${base}.rules: ${(error as Error).message}`] };
  }
  const refused = otRefusedCodes(rules, section.otRefuses ?? [], `${base}.otRefuses`);
  if (refused.problems.length > 0) return { problems: refused.problems };
  return {
    problems: [],
    prepared: { mode: section.mode ?? "on", rules, options: { unmatched: section.unmatched ?? "forward-if-code", otRefuses: refused.codes }, rulesFile },
  };
}

/**
 * The codes `otRefuses` names, through the rules' codes and aliases; `"*"` is
 * every service in the rules. A name the rules do not know is a problem: the
 * filter could never recognise its SMS, so refusing it would do nothing.
 */
function otRefusedCodes(rules: CompiledRules, entries: readonly string[], path: string): { codes: ReadonlySet<string>; problems: string[] } {
  const codes = new Set<string>();
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    if (entry === "*") {
      for (const service of rules.services) codes.add(service.code);
      return;
    }
    const code = rules.codes.get(entry.trim().toLowerCase());
    if (code === undefined) problems.push(`${path}[${index}]: "${entry}" is not a service in the rules`);
    else codes.add(code);
  });
  return { codes, problems };
}
