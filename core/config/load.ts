import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { SimhiveError } from "../errors.ts";
import type { JsonSchema, PluginDefinition } from "../plugins.ts";
import { loadDefinitions, type PluginResolver, pluginResolver } from "./plugins.ts";
import { coreSchema } from "./schema.ts";
import { coreSections } from "./sections.ts";
import { applyEnvOverrides } from "./env.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const DEFAULT_CONFIG_PATH = "/etc/simhive/config.yaml";

/** The validated config, defaults applied. Plugin sections stay loosely typed; each plugin knows its own. */
export interface HubConfig {
  hub: { id: string; dataDir: string; pluginDirs: string[]; retentionDays: number; pruneIntervalMinutes: number; shutdownTimeoutSeconds: number };
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    requestTimeoutSeconds: number;
    trustProxy: boolean;
    tls?: { cert: string; key: string };
  };
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
  debug: { logSmsText: boolean };
  modems: Record<string, any>;
  activations: Record<string, any>;
  plugins: Record<string, { enabled: boolean; [key: string]: unknown }>;
}

export interface LoadedConfig {
  /** The file it came from (absolute). */
  file: string;
  config: HubConfig;
  /** Definitions of the enabled plugins, in config order. */
  plugins: PluginDefinition[];
}

/** `--config`, then `SIMHIVE_CONFIG`, then /etc/simhive/config.yaml. */
export function findConfigPath(argPath: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(argPath ?? env.SIMHIVE_CONFIG ?? DEFAULT_CONFIG_PATH);
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
const validators = new WeakMap<JsonSchema, ValidateFunction>();

function validatorFor(schema: JsonSchema): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate;
}

/** `/plugins/onlinesim/masks/2` → `plugins.onlinesim.masks[2]` */
export function formatPath(pointer: string, prefix = ""): string {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let path = prefix;
  for (const part of parts) {
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else path += path ? `.${part}` : part;
  }
  return path;
}

/** One line per ajv error: `path: message`. */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ""): string[] {
  const lines: string[] = [];
  for (const error of errors ?? []) {
    const at = formatPath(error.instancePath, prefix);
    const join = (key: string) => (at ? `${at}.${key}` : key);
    switch (error.keyword) {
      case "additionalProperties":
        lines.push(`${join(String(error.params.additionalProperty))}: unknown key`);
        break;
      case "required":
        lines.push(`${join(String(error.params.missingProperty))}: is required`);
        break;
      case "enum":
        lines.push(`${at || "(root)"}: must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`);
        break;
      case "if":
        break;
      default:
        lines.push(`${at || "(root)"}: ${error.message ?? "is invalid"}`);
    }
  }
  return [...new Set(lines)];
}

/** Line numbers of YAML nodes by config path, for error messages. */
export type Locate = (path: string) => number | undefined;

/** Parses YAML text; syntax errors are reported with line and column. */
export function parseYaml(text: string, file: string): { data: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    const details = document.errors.map((e) => {
      const position = e.linePos?.[0];
      return `${position ? `line ${position.line}, column ${position.col}` : "(somewhere)"}: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`;
    });
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: not valid YAML`, { details });
  }
  const locate: Locate = (path) => {
    const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
    // The deepest node that exists on the path: an unknown key's own line, else its parent's.
    for (let depth = keys.length; depth > 0; depth--) {
      const parentKeys = keys.slice(0, depth - 1);
      const parent = parentKeys.length ? document.getIn(parentKeys, true) : document.contents;
      const last = keys[depth - 1] as string;
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === last);
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (range) return lineCounter.linePos(range[0]).line;
      } else {
        const node = document.getIn([...parentKeys, /^\d+$/.test(last) ? Number(last) : last], true) as { range?: [number, number, number] } | undefined;
        if (node?.range) return lineCounter.linePos(node.range[0]).line;
      }
    }
    return undefined;
  };
  return { data: document.toJS() ?? {}, locate };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  resolvePlugin?: PluginResolver;
  /** Where in the file a path is, to put line numbers on problems. */
  locate?: Locate;
}

/**
 * Reads, overrides from the environment, validates (core schema, then every
 * enabled plugin's schema) and applies defaults. Every problem is reported at
 * once in one SIMHIVE_ERR_CONFIG error whose `details` are `path: message`
 * lines and whose message names the file.
 */
export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SimhiveError(
      code === "ENOENT" ? "SIMHIVE_ERR_CONFIG_NOT_FOUND" : "SIMHIVE_ERR_CONFIG",
      code === "ENOENT"
        ? `no config file at ${file} (give one with --config FILE or SIMHIVE_CONFIG, or create ${DEFAULT_CONFIG_PATH})`
        : `cannot read config file ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { data, locate } = parseYaml(text, file);
  return loadConfig(data, file, { ...options, locate });
}

export async function loadConfig(raw: unknown, file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const pluginDirs = ((raw as { hub?: { pluginDirs?: unknown } }).hub?.pluginDirs ?? []) as unknown[];
  const resolvePlugin =
    options.resolvePlugin ??
    pluginResolver(
      pluginDirs.filter((d): d is string => typeof d === "string").map((d) => resolve(dirname(file), d)),
    );
  const problems: string[] = [];
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: invalid config`, { details: ["(root): must be a mapping of sections (hub, http, modems, plugins ...)"] });
  }
  const data = structuredClone(raw) as Record<string, unknown>;

  // Plugins named in the file or the environment, and their definitions (for schemas and env paths).
  const named = new Set<string>(Object.keys((data.plugins as Record<string, unknown> | undefined) ?? {}));
  const schema = coreSchema(coreSections);
  const resolved = new Map<string, PluginDefinition>();
  const lookup = async (name: string): Promise<PluginDefinition | undefined> => {
    if (!resolved.has(name)) {
      const definition = await resolvePlugin.load(name).catch(() => undefined);
      if (definition) resolved.set(name, definition);
    }
    return resolved.get(name);
  };
  for (const name of named) await lookup(name);
  const { problems: envProblems, overridden } = await applyEnvOverrides(data, env, schema, lookup);
  problems.push(...envProblems);

  const validateCore = validatorFor(schema);
  if (!validateCore(data)) problems.push(...formatAjvErrors(validateCore.errors));

  const sections = (data.plugins ?? {}) as Record<string, Record<string, unknown>>;
  const enabled = Object.keys(sections).filter((name) => sections[name]?.enabled === true);
  let definitions: PluginDefinition[] = [];
  try {
    definitions = await loadDefinitions(enabled, { has: (name) => resolvePlugin.has(name), load: lookup });
  } catch (error) {
    problems.push(...((error as SimhiveError).details ?? [String(error)]));
  }
  for (const definition of definitions) {
    const validatePlugin = pluginValidator(definition);
    const section = sections[definition.name];
    if (!validatePlugin(section)) problems.push(...formatAjvErrors(validatePlugin.errors, `plugins.${definition.name}`));
    else problems.push(...(definition.validateConfig?.(section) ?? []));
  }
  for (const name of Object.keys(sections)) {
    if (sections[name]?.enabled === false && !(await lookup(name))) problems.push(`plugins.${name}: no such plugin (it is disabled, but check the spelling)`);
  }

  if (problems.length > 0) {
    const name = basename(file);
    const located = problems.map((problem) => {
      const path = problem.split(": ")[0] ?? "";
      if (path.startsWith("SIMHIVE_")) return `environment: ${problem}`;
      const fromEnv = [...overridden].find(([prefix]) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`));
      if (fromEnv) return `environment ${fromEnv[1]}: ${problem}`;
      const line = options.locate?.(path);
      return line === undefined ? `${name}: ${problem}` : `${name}:${line}: ${problem}`;
    });
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: ${problems.length} problem${problems.length > 1 ? "s" : ""} in the config`, { details: located });
  }
  const config = data as unknown as HubConfig;
  // Paths in the file are relative to the file, not to wherever simhive was started.
  config.hub.dataDir = resolve(dirname(file), config.hub.dataDir);
  return { file, config, plugins: definitions };
}

/** A plugin's schema as its section is checked: its own keys plus `enabled`, unknown keys refused. */
export function pluginSectionSchema(definition: PluginDefinition): JsonSchema {
  return {
    ...definition.configSchema,
    type: "object",
    additionalProperties: (definition.configSchema.additionalProperties as boolean | undefined) ?? false,
    properties: { ...((definition.configSchema.properties as object | undefined) ?? {}), enabled: { type: "boolean" } },
  };
}

const pluginValidators = new WeakMap<PluginDefinition, ValidateFunction>();
function pluginValidator(definition: PluginDefinition): ValidateFunction {
  let validate = pluginValidators.get(definition);
  if (!validate) {
    validate = ajv.compile(pluginSectionSchema(definition));
    pluginValidators.set(definition, validate);
  }
  return validate;
}

/** The full message of a config error, one problem a line, for a terminal or a log. */
export function formatConfigError(error: SimhiveError): string {
  return [error.message, ...error.details.map((line) => `  ${line}`)].join("\n");
}
