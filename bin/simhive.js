#!/usr/bin/env node
// Entry for `npx simhive ...` from a checkout: runs the TypeScript CLI through tsx.
// The Debian package ships compiled JavaScript and its own launcher instead.
import { register } from "tsx/esm/api";
register();
await import("../core/main.ts");
