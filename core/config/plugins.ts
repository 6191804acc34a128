import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeError, SimhiveError } from "../errors.ts";
import type { PluginDefinition } from "../plugins.ts";

/**
 * Finds plugins by name. `has` only looks (a disabled plugin's code never
 * runs); `load` imports the plugin and returns its definition.
 */
export interface PluginResolver {
  has(name: string): boolean;
  /** undefined when there is no such plugin; SIMHIVE_ERR_PLUGIN_LOAD when there is one that cannot be loaded. */
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
      let module: { default?: Partial<PluginDefinition> };
      try {
        module = (await import(pathToFileURL(path).href)) as typeof module;
      } catch (error) {
        throw new SimhiveError("SIMHIVE_ERR_PLUGIN_LOAD", `cannot load ${path}: ${describeError(error)}`, { cause: error });
      }
      if (module.default?.name !== name || typeof module.default.start !== "function") {
        throw new SimhiveError("SIMHIVE_ERR_PLUGIN_LOAD", `cannot load ${path}: it does not default-export a plugin named "${name}" (an object with that name and start())`);
      }
      return module.default as PluginDefinition;
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

/**
 * Dependency order (dependencies first), and a problem line for every
 * dependency that is not enabled and every cycle.
 */
export function dependencyOrder(definitions: readonly PluginDefinition[]): { ordered: PluginDefinition[]; problems: string[] } {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const problems: string[] = [];
  for (const definition of definitions) {
    for (const dependency of definition.dependencies ?? []) {
      if (!byName.has(dependency)) problems.push(`plugins.${definition.name}: needs plugin "${dependency}", which is not enabled`);
    }
  }
  const ordered: PluginDefinition[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (definition: PluginDefinition, path: string[]): void => {
    const seen = state.get(definition.name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...path.slice(path.indexOf(definition.name)), definition.name];
      problems.push(`plugins.${definition.name}: dependency cycle: ${cycle.join(" → ")}`);
      return;
    }
    state.set(definition.name, "visiting");
    for (const dependency of definition.dependencies ?? []) {
      const needed = byName.get(dependency);
      if (needed) visit(needed, [...path, definition.name]);
    }
    state.set(definition.name, "done");
    ordered.push(definition);
  };
  for (const definition of definitions) visit(definition, []);
  return { ordered, problems };
}

/** Dependency order; SIMHIVE_ERR_PLUGIN_DEPENDENCY when a dependency is not enabled or there is a cycle. */
export function orderByDependencies(definitions: readonly PluginDefinition[]): PluginDefinition[] {
  const { ordered, problems } = dependencyOrder(definitions);
  if (problems.length > 0) throw new SimhiveError("SIMHIVE_ERR_PLUGIN_DEPENDENCY", problems.join("; "), { details: problems });
  return ordered;
}
