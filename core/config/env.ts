import { parse as parseYamlValue } from "yaml";
import type { JsonSchema } from "../plugins.ts";

const PREFIX = "SIMHIVE_";

const normalise = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, "");

/** What the overrides need to know of plugins. */
export interface EnvPlugins {
  /** Whether a plugin of that name exists (its code is not run). */
  has(name: string): boolean;
  /** The schema of an enabled plugin's section; undefined when the plugin cannot be loaded (reported elsewhere). */
  sectionSchema(name: string): Promise<JsonSchema | undefined>;
}

export interface EnvOverrides {
  /** A line for every variable inside a config section that names no key. */
  problems: string[];
  /** Config path (`http.port`) → the variable that set it. */
  overridden: Map<string, string>;
}

interface Resolved {
  path: string[];
  schema: JsonSchema;
}

/**
 * The key of `properties` that the first tokens name (`RETENTION`, `DAYS` →
 * retentionDays), matched case- and punctuation-insensitively, so camelCase
 * and dashed keys work; the shortest match that leaves a resolvable rest wins.
 */
function resolvePath(tokens: readonly string[], schema: JsonSchema): Resolved | undefined {
  if (tokens.length === 0) return { path: [], schema };
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (let k = 1; k <= tokens.length; k++) {
    const wanted = normalise(tokens.slice(0, k).join(""));
    const key = Object.keys(properties).find((p) => normalise(p) === wanted);
    if (key === undefined) continue;
    const rest = resolvePath(tokens.slice(k), properties[key] as JsonSchema);
    if (rest) return { path: [key, ...rest.path], schema: rest.schema };
  }
  return undefined;
}

/** The plugin the tokens after PLUGINS name (`NUMBER`, `EXCEPTIONS`, ... → number-exceptions), the longest existing name first. */
function pluginOf(tokens: readonly string[], has: (name: string) => boolean): { plugin: string; rest: string[] } | undefined {
  for (let k = tokens.length; k >= 1; k--) {
    const plugin = tokens.slice(0, k).join("-").toLowerCase();
    if (has(plugin)) return { plugin, rest: tokens.slice(k) };
  }
  return undefined;
}

/** The JSON types a schema admits, as far as it says. */
function typesOf(schema: JsonSchema): Set<string> {
  const types = new Set<string>();
  if (typeof schema.type === "string") types.add(schema.type);
  if (Array.isArray(schema.type)) for (const type of schema.type as string[]) types.add(type);
  if (Array.isArray(schema.enum)) for (const value of schema.enum as unknown[]) types.add(typeof value);
  for (const branch of [...((schema.oneOf as JsonSchema[] | undefined) ?? []), ...((schema.anyOf as JsonSchema[] | undefined) ?? [])]) {
    for (const type of typesOf(branch)) types.add(type);
  }
  return types;
}

/**
 * A key that takes text gets the value exactly as written (`pi #01` is not a
 * comment, `007` is not a number); numbers, booleans, lists and mappings are
 * read as YAML (`8081`, `true`, `[a, b]`).
 */
function envValue(raw: string, schema: JsonSchema): unknown {
  if (typesOf(schema).has("string")) return raw;
  try {
    return parseYamlValue(raw);
  } catch {
    return raw; // the schema then says what is wrong with it
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

const ENABLED: JsonSchema = { type: "boolean" };

const namesNoKey = (name: string): string => `${name}: this environment variable names no config key`;

/**
 * Applies `SIMHIVE_<PATH>=value` overrides onto `data`, guided by `schema`:
 * `SIMHIVE_HTTP_PORT` → http.port, `SIMHIVE_PLUGINS_ONLINESIM_APIKEY` →
 * plugins.onlinesim.apiKey, `SIMHIVE_PLUGINS_NUMBER_EXCEPTIONS_ENABLED` →
 * plugins.number-exceptions.enabled.
 *
 * Only variables whose first part names a section of the config (hub, http,
 * log ... as the schema has them) are overrides; the others (SIMHIVE_CONFIG,
 * a launcher's SIMHIVE_NODE, a test's SIMHIVE_TEST_LOG) are not the config's
 * business. Inside a section, a variable that names no key is a problem, so a
 * typo does not pass silently. An empty value counts as unset. The keys of a
 * plugin that stays disabled are not read, so their overrides are not checked.
 */
export async function applyEnvOverrides(data: Record<string, unknown>, env: NodeJS.ProcessEnv, schema: JsonSchema, plugins: EnvPlugins): Promise<EnvOverrides> {
  const problems: string[] = [];
  const overridden = new Map<string, string>();
  const apply = (name: string, raw: string, resolved: Resolved) => {
    setPath(data, resolved.path, envValue(raw, resolved.schema));
    overridden.set(resolved.path.join("."), name);
  };
  const sections = (schema.properties ?? {}) as Record<string, JsonSchema>;
  // Plugin variables come after the core ones (hub.pluginDirs says where plugins are), and a plugin's
  // keys after every `enabled`: only then is it known which plugins are enabled.
  const pluginVariables: { name: string; raw: string; tokens: string[] }[] = [];
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(PREFIX) || raw === undefined || raw === "") continue;
    const tokens = name.slice(PREFIX.length).split("_").filter(Boolean);
    const section = Object.keys(sections).find((key) => normalise(key) === normalise(tokens[0] ?? ""));
    if (section === undefined) continue;
    if (section === "plugins" && tokens.length > 1) {
      pluginVariables.push({ name, raw, tokens: tokens.slice(1) });
      continue;
    }
    const resolved = resolvePath(tokens.slice(1), sections[section] as JsonSchema);
    if (resolved) apply(name, raw, { path: [section, ...resolved.path], schema: resolved.schema });
    else problems.push(namesNoKey(name));
  }
  const pluginKeys: { name: string; raw: string; plugin: string; rest: string[] }[] = [];
  for (const { name, raw, tokens } of pluginVariables) {
    const found = pluginOf(tokens, (plugin) => plugins.has(plugin));
    if (!found) problems.push(namesNoKey(name));
    else if (found.rest.length === 0) apply(name, raw, { path: ["plugins", found.plugin], schema: { type: "object" } });
    else if (found.rest.length === 1 && normalise(found.rest[0] as string) === "enabled") apply(name, raw, { path: ["plugins", found.plugin, "enabled"], schema: ENABLED });
    else pluginKeys.push({ name, raw, ...found });
  }
  for (const { name, raw, plugin, rest } of pluginKeys) {
    const section = (data.plugins as Record<string, { enabled?: unknown } | undefined> | undefined)?.[plugin];
    if (section?.enabled !== true) continue;
    const sectionSchema = await plugins.sectionSchema(plugin);
    if (!sectionSchema) continue;
    const resolved = resolvePath(rest, sectionSchema);
    if (resolved) apply(name, raw, { path: ["plugins", plugin, ...resolved.path], schema: resolved.schema });
    else problems.push(namesNoKey(name));
  }
  return { problems, overridden };
}
