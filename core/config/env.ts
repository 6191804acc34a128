import { parse as parseYamlValue } from "yaml";
import type { JsonSchema, PluginDefinition } from "../plugins.ts";
import { pluginSectionSchema } from "./load.ts";

/** Variables that are not config paths. */
const RESERVED = new Set(["SIMHIVE_CONFIG"]);

const normalise = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, "");

type Lookup = (name: string) => Promise<PluginDefinition | undefined>;

/**
 * Finds the config path an environment name stands for, guided by the schema:
 * `SIMHIVE_HTTP_PORT` → http.port, `SIMHIVE_PLUGINS_ONLINESIM_APIKEY` →
 * plugins.onlinesim.apiKey, `SIMHIVE_PLUGINS_NUMBER_EXCEPTIONS_ENABLED` →
 * plugins.number-exceptions.enabled. Keys are matched case- and
 * punctuation-insensitively, so camelCase and dashed keys work.
 */
async function resolvePath(tokens: string[], schema: JsonSchema | undefined, lookup: Lookup, inPlugins = false): Promise<string[] | undefined> {
  if (tokens.length === 0) return [];
  if (inPlugins) {
    for (let k = tokens.length; k >= 1; k--) {
      const name = tokens.slice(0, k).join("-").toLowerCase();
      const definition = await lookup(name);
      if (definition) {
        const rest = await resolvePath(tokens.slice(k), pluginSectionSchema(definition), lookup);
        if (rest) return [name, ...rest];
      }
    }
    return undefined;
  }
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  for (let k = 1; k <= tokens.length; k++) {
    const wanted = normalise(tokens.slice(0, k).join(""));
    const key = Object.keys(properties).find((p) => normalise(p) === wanted);
    if (key === undefined) continue;
    const rest = await resolvePath(tokens.slice(k), properties[key], lookup, key === "plugins" && schema?.properties !== undefined && k === 1 && tokens.length > 1);
    if (rest) return [key, ...rest];
  }
  return undefined;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/**
 * Applies `SIMHIVE_<PATH>=value` overrides onto `data`. Values are read as
 * YAML scalars or flow collections (`8081`, `true`, `[a, b]`). Returns a
 * problem line for every variable that names no config key, and which paths
 * came from which variable (so errors name the variable, not the file).
 */
export async function applyEnvOverrides(
  data: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  schema: JsonSchema,
  lookup: Lookup,
): Promise<{ problems: string[]; overridden: Map<string, string> }> {
  const problems: string[] = [];
  const overridden = new Map<string, string>();
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    // An empty value counts as unset, as in systemd EnvironmentFile= lines.
    if (!name.startsWith("SIMHIVE_") || RESERVED.has(name) || raw === undefined || raw === "") continue;
    const tokens = name.slice("SIMHIVE_".length).split("_").filter(Boolean);
    const path = await resolvePath(tokens, schema, lookup);
    if (!path || path.length === 0) {
      problems.push(`${name}: this environment variable names no config key`);
      continue;
    }
    let value: unknown;
    try {
      value = parseYamlValue(raw);
    } catch {
      value = raw;
    }
    setPath(data, path, value);
    overridden.set(path.join("."), name);
  }
  return { problems, overridden };
}
