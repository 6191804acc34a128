/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process, one after
 * another (so they do not share the two cores), and prints their output.
 * Targets live in the benchmarks, never in timed tests. Copy the figures into
 * bench/RESULTS.md with the command and the machine.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n### ${file}\n`);
  const result = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", `${dir}${file}`], { stdio: "inherit" });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`${file}: exited ${result.status ?? result.signal}\n`);
  }
}
process.exit(failed ? 1 : 0);
