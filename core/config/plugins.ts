import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SimhiveError } from "../errors.ts";
import type { PluginDefinition } from "../plugins.ts";

/**
 * Finds plugins by name. `has` only looks (a disabled plugin's code never
 * runs); `load` imports the plugin and returns its definition.
 */
export interface PluginResolver {
  has(name: string): boolean;
  /** undefined when there is no such plugin. */
  load(name: string): Promise<PluginDefinition | undefined>;
}

const PLUGIN_NAME = /^[a-z][a-z0-9-]{0,40}$/;

const BUILTIN_DIR = fileURLToPath(new URL("../../plugins/", import.meta.url));

/**
 * Finds `<dir>/<name>/index.ts` (or `.js` when running compiled) in the
 * built-in plugins/ folder, then in `extraDirs`.
 */
export function pluginResolver(extraDirs: readonly string[] = []): PluginResolver {
  const fileOf = (name: string): string | undefined => {
    if (!PLUGIN_NAME.test(name)) return undefined;
    for (const dir of [BUILTIN_DIR, ...extraDirs]) {
      for (const extension of ["ts", "js"]) {
        const path = join(dir, name, `index.${extension}`);
        if (existsSync(path)) return path;
      }
    }
    return undefined;
  };
  return {
    has: (name) => fileOf(name) !== undefined,
    async load(name) {
      const path = fileOf(name);
      if (path === undefined) return undefined;
      const module = (await import(pathToFileURL(path).href)) as { default?: PluginDefinition };
      if (module.default?.name !== name) {
        throw new SimhiveError("SIMHIVE_ERR_PLUGIN_UNKNOWN", `${path} does not default-export a plugin named "${name}"`);
      }
      return module.default;
    },
  };
}

export const resolveBuiltinPlugin: PluginResolver = pluginResolver();

/** Definitions given in code (tests, the demo), found before `fallback`'s. */
export function staticResolver(definitions: readonly PluginDefinition[], fallback?: PluginResolver): PluginResolver {
  const byName = new Map(definitions.map((definition) => [definition.name, definition]));
  return {
    has: (name) => byName.has(name) || (fallback?.has(name) ?? false),
    load: async (name) => byName.get(name) ?? fallback?.load(name),
  };
}

/** Loads the definitions of the named plugins; unknown names are one error listing them all. */
export async function loadDefinitions(names: readonly string[], resolve: PluginResolver): Promise<PluginDefinition[]> {
  const definitions: PluginDefinition[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const definition = await resolve.load(name);
    if (definition) definitions.push(definition);
    else unknown.push(name);
  }
  if (unknown.length > 0) {
    throw new SimhiveError("SIMHIVE_ERR_PLUGIN_UNKNOWN", `unknown plugin${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      details: unknown.map((name) => `plugins.${name}: no such plugin`),
    });
  }
  return definitions;
}

/** Dependency order (dependencies first); a missing or disabled dependency or a cycle is an error. */
export function orderByDependencies(definitions: readonly PluginDefinition[]): PluginDefinition[] {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const problems: string[] = [];
  for (const definition of definitions) {
    for (const dependency of definition.dependencies ?? []) {
      if (!byName.has(dependency)) problems.push(`plugins.${definition.name}: needs plugin "${dependency}", which is not enabled`);
    }
  }
  if (problems.length > 0) {
    throw new SimhiveError("SIMHIVE_ERR_PLUGIN_DEPENDENCY", problems.join("; "), { details: problems });
  }
  const ordered: PluginDefinition[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (definition: PluginDefinition, path: string[]): void => {
    const seen = state.get(definition.name);
    if (seen === "done") return;
    if (seen === "visiting") {
      throw new SimhiveError("SIMHIVE_ERR_PLUGIN_DEPENDENCY", `plugin dependency cycle: ${[...path, definition.name].join(" → ")}`);
    }
    state.set(definition.name, "visiting");
    for (const dependency of definition.dependencies ?? []) visit(byName.get(dependency) as PluginDefinition, [...path, definition.name]);
    state.set(definition.name, "done");
    ordered.push(definition);
  };
  for (const definition of definitions) visit(definition, []);
  return ordered;
}
