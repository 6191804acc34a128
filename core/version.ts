import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package version, read once from package.json (next to core/ in a checkout, one level up when compiled). */
export const VERSION: string = (() => {
  for (const relative of ["../package.json", "../../package.json"]) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "simhive" && pkg.version) return pkg.version;
    }
  }
  return "0.0.0-unknown";
})();
