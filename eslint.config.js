// ESLint with typescript-eslint: pure JavaScript, so it installs from the npm
// registry alone on every platform CI and a Pi use (Biome's per-platform
// binaries are not all on the registry mirror this project builds from).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "build/**", ".scratch/**", ".data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "warn",
      "no-console": "off",
    },
  },
);
