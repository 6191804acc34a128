import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventBus } from "../../core/bus.ts";
import { capturingLogger } from "../helpers/hub.ts";
import { waitFor } from "../helpers/process.ts";

describe("event bus", () => {
  it("isolates a listener whose promise rejects: logged with its owner, the others still called, nothing left unhandled", async () => {
    const { log, lines } = capturingLogger();
    const bus = new EventBus(log);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const got: string[] = [];
      bus.on("config.reloaded", "async-thrower", async () => {
        await Promise.resolve();
        throw new Error("async boom");
      });
      bus.on("config.reloaded", "listener", () => void got.push("listener"));
      bus.emit("config.reloaded", { changedSections: [] });
      assert.deepEqual(got, ["listener"]);
      const line = await waitFor("the rejection in the log", async () => lines.find((l) => l.owner === "async-thrower" && l.msg === "event listener failed"), 5_000);
      assert.equal(line.event, "config.reloaded");
      assert.equal((line.err as { message?: string }).message, "async boom");
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
