import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The `skip` option of a test that needs a system tool: skipped on a
 * developer's machine without it, never under CI (CI=true), where .ci/run
 * installs the tool, so a missing one fails the run instead of passing
 * unseen.
 */
export function needsTool(present: boolean, reason: string): string | false {
  return present || process.env.CI === "true" ? false : reason;
}

/** Polls `probe` until it returns a value (errors count as "not yet"). A hang guard, not a timed assertion. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface HubProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** The HTTP port, once the hub logged "http listening". */
  port(): Promise<number>;
  exited: Promise<number | null>;
}

/** `simhive start --config FILE` in a child process, as systemd would run it. */
export function spawnHub(configFile: string, env: NodeJS.ProcessEnv = process.env): HubProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/main.ts"), "start", "--config", configFile], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    port: () =>
      waitFor("the hub's listening line", async () => {
        const match = /"msg":"http listening"/.test(output) ? /"port":(\d+)/.exec(output) : null;
        return match ? Number(match[1]) : undefined;
      }),
  };
}
