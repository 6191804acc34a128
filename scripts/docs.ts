/** `npm run docs`: regenerates the config reference in README.md from the schemas. */
import { readFile, writeFile } from "node:fs/promises";
import { builtinPlugins, renderConfigReference, withReference } from "../core/config/reference.ts";

const path = new URL("../README.md", import.meta.url);
const readme = await readFile(path, "utf8");
await writeFile(path, withReference(readme, renderConfigReference(await builtinPlugins())));
console.log("README.md: config reference regenerated");
