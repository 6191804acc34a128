/**
 * Core start-up: from `simhive start` (a new process, through tsx) to the
 * first /readyz 200, with the core alone and no modems. Target on this
 * machine: within 2 s (issue 2). Run alone: npx tsx bench/core.bench.ts
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function once(port: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "simhive-bench-"));
  const config = join(dir, "config.yaml");
  await writeFile(config, `hub: { dataDir: ${dir} }\nhttp: { host: 127.0.0.1, port: ${port} }\nmodems: { ports: [] }\nlog: { level: warn }\n`);
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", config], { stdio: "ignore" });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() - started > 30_000) throw new Error("no /readyz within 30 s");
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

const times: number[] = [];
for (let i = 0; i < RUNS; i++) times.push(await once(18700 + i));
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? 0;
const result = { bench: "core start → /readyz 200 (tsx, no plugins, no modems)", runs: RUNS, medianMs: Math.round(median), maxMs: Math.round(times.at(-1) ?? 0), targetMs: 2000, met: median <= 2000 };
console.log(JSON.stringify(result));
