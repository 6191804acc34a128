#!/usr/bin/env node
/** CLI entry: `tsx core/main.ts <command>`, or `npx simhive <command>` through bin/simhive.js. */
import { main } from "./cli.ts";
import { describeError, isSimhiveError } from "./errors.ts";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`simhive: ${describeError(error)}\n`);
    process.exit(isSimhiveError(error) ? 2 : 1);
  },
);
