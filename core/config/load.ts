import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { describeError, isSimhiveError, SimhiveError } from "../errors.ts";
import type { PluginDefinition } from "../plugins.ts";
import { applyEnvOverrides } from "./env.ts";
import { dependencyOrder, type PluginResolver, pluginResolver } from "./plugins.ts";
import { coreSchema } from "./schema.ts";
import { coreSections } from "./sections.ts";
import { checkTlsFiles } from "./tls.ts";
import { formatAjvErrors, pluginSectionSchema, validatorFor } from "./validate.ts";
import { type Locate, parseYaml } from "./yaml.ts";

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
  /** Definitions of the enabled plugins, dependencies first. */
  plugins: PluginDefinition[];
  /** The environment its overrides came from (a reload reads the same). */
  env: NodeJS.ProcessEnv;
}

/** `--config`, then `SIMHIVE_CONFIG`, then /etc/simhive/config.yaml. */
export function findConfigPath(argPath: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(argPath ?? env.SIMHIVE_CONFIG ?? DEFAULT_CONFIG_PATH);
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

/**
 * The plugins named in the config: looked for without being imported (a
 * disabled plugin's code never runs), and loaded once each when needed.
 */
function pluginCatalogue(resolver: () => PluginResolver) {
  const loaded = new Map<string, Promise<{ definition?: PluginDefinition; problem?: string }>>();
  const load = (name: string) => {
    let entry = loaded.get(name);
    if (!entry) {
      entry = resolver()
        .load(name)
        .then(
          (definition) => (definition ? { definition } : { problem: "no such plugin" }),
          (error: unknown) => ({ problem: (isSimhiveError(error) ? error.message : describeError(error)).replace(/\s*\n\s*/g, " ") }),
        );
      loaded.set(name, entry);
    }
    return entry;
  };
  return {
    has: (name: string) => resolver().has(name),
    load,
    sectionSchema: async (name: string) => {
      const { definition } = await load(name);
      return definition && pluginSectionSchema(definition);
    },
  };
}

export async function loadConfig(raw: unknown, file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: invalid config`, { details: ["(root): must be a mapping of sections (hub, http, modems, plugins ...)"] });
  }
  const data = structuredClone(raw) as Record<string, unknown>;
  const problems: string[] = [];

  // Plugins are looked for in hub.pluginDirs (relative to the file) as it stands once the core overrides are in.
  let resolver = options.resolvePlugin;
  const plugins = pluginCatalogue(() => {
    const dirs = ((data.hub as { pluginDirs?: unknown } | undefined)?.pluginDirs ?? []) as unknown[];
    resolver ??= pluginResolver(dirs.filter((d): d is string => typeof d === "string").map((d) => resolve(dirname(file), d)));
    return resolver;
  });
  const schema = coreSchema(coreSections);
  const { problems: envProblems, overridden } = await applyEnvOverrides(data, env, schema, plugins);
  problems.push(...envProblems);

  const validateCore = validatorFor(coreSections, () => schema);
  const coreValid = validateCore(data);
  if (!coreValid) problems.push(...formatAjvErrors(validateCore.errors));

  const sections = (data.plugins ?? {}) as Record<string, Record<string, unknown>>;
  const enabled: PluginDefinition[] = [];
  for (const [name, section] of Object.entries(sections)) {
    if (section?.enabled !== true) {
      if (section?.enabled === false && !plugins.has(name)) problems.push(`plugins.${name}: no such plugin (it is disabled, but check the spelling)`);
      continue;
    }
    const { definition, problem } = await plugins.load(name);
    if (!definition) {
      problems.push(`plugins.${name}: ${problem}`);
      continue;
    }
    enabled.push(definition);
    problems.push(...validatePluginSection(definition, section));
  }
  const { ordered, problems: dependencyProblems } = dependencyOrder(enabled);
  problems.push(...dependencyProblems);

  const config = data as unknown as HubConfig;
  if (coreValid) {
    // Paths in the file are relative to the file, not to wherever simhive was started (/ under systemd).
    config.hub.dataDir = resolve(dirname(file), config.hub.dataDir);
    if (config.http.tls) {
      config.http.tls = { cert: resolve(dirname(file), config.http.tls.cert), key: resolve(dirname(file), config.http.tls.key) };
      problems.push(...(await checkTlsFiles(config.http.tls)).problems);
    }
  }

  if (problems.length > 0) {
    const located = problems.map((problem) => whereFrom(problem, basename(file), options.locate, overridden));
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: ${problems.length} problem${problems.length > 1 ? "s" : ""} in the config`, { details: located });
  }
  return { file, config, plugins: ordered, env };
}

/** The section against the plugin's schema (defaults applied), then the plugin's own checks. */
function validatePluginSection(definition: PluginDefinition, section: Record<string, unknown>): string[] {
  let validate;
  try {
    validate = validatorFor(definition, () => pluginSectionSchema(definition));
  } catch (error) {
    return [`plugins.${definition.name}: invalid configSchema: ${describeError(error)}`];
  }
  if (!validate(section)) return formatAjvErrors(validate.errors, `plugins.${definition.name}`);
  return definition.validateConfig?.(section) ?? [];
}

/**
 * Puts where a problem comes from in front of it: `config.yaml:7: ...`, or
 * `environment SIMHIVE_HTTP_PORT: ...` when the path (or a section above it)
 * was set by a variable. A key that is missing where a variable made or
 * changed its section (SIMHIVE_PLUGINS_X_ENABLED=true, and X's required key
 * is absent) names the variable too.
 */
function whereFrom(problem: string, fileName: string, locate: Locate | undefined, overridden: ReadonlyMap<string, string>): string {
  const path = problem.split(": ")[0] ?? "";
  if (path.startsWith("SIMHIVE_")) return `environment: ${problem}`;
  const under = (prefix: string) => [...overridden].filter(([p]) => p.startsWith(`${prefix}.`) || p.startsWith(`${prefix}[`)).map(([, name]) => name);
  const own = [...overridden].find(([p]) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  if (own) return `environment ${own[1]}: ${problem}`;
  const spot = locate?.(path);
  const inFile = spot === undefined ? fileName : `${fileName}:${spot.line}`;
  if (spot?.exact) return `${inFile}: ${problem}`;
  const parent = path.replace(/(\.[^.[]+|\[\d+\])$/, "");
  const variables = [under(path), parent === path ? [] : under(parent)].find((names) => names.length > 0);
  if (!variables) return `${inFile}: ${problem}`;
  const sectionInFile = parent !== path && locate?.(parent)?.exact === true;
  return `${sectionInFile ? `${inFile}, ` : ""}environment ${variables.join(", ")}: ${problem}`;
}

/** The full message of a config error, one problem a line, for a terminal or a log. */
export function formatConfigError(error: SimhiveError): string {
  return [error.message, ...error.details.map((line) => `  ${line}`)].join("\n");
}
