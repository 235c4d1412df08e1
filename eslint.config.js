// Lint: typescript-eslint's recommended rules, and the layers as import boundaries:
// core imports only core; adapters never import app, cli or ui; app never imports cli or ui;
// report and ui never import cli. (Formatting is Prettier's: see .prettierrc.json.)
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    "no-restricted-imports": ["error", { patterns: [{ group: forbidden, message: why }] }],
  },
});

const LIBRARIES = [
  "ink",
  "react",
  "commander",
  "dockerode",
  "openai",
  "execa",
  "conf",
  "better-sqlite3",
  "yaml",
  "zod",
  "pg",
];

// A relative import that reaches into another layer's folder, at any depth.
const up = (...dirs) => dirs.map((d) => `**/${d}/**`);

export default tseslint.config(
  // test/fixtures: repositories the tests copy into sandboxes (CommonJS, their own conventions).
  { ignores: ["dist/", "dist-check/", "node_modules/", "coverage/", ".lanes-test/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        performance: "readonly",
        fetch: "readonly",
        Response: "readonly",
        TextDecoder: "readonly",
        TextEncoder: "readonly",
        structuredClone: "readonly",
        SharedArrayBuffer: "readonly",
        Atomics: "readonly",
        queueMicrotask: "readonly",
        setImmediate: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  // Core is pure: no I/O (node:*), no UI, CLI, Docker, model client, database or YAML library
  // (zod is pure computation: the tools validate the model's arguments with it).
  layer(
    ["src/core/**"],
    ["node:*", ...LIBRARIES.filter((l) => l !== "zod"), ...up("adapters", "app", "cli", "ui", "report")],
    "core is pure: it imports only core",
  ),
  layer(["src/adapters/**"], up("app", "cli", "ui", "report"), "adapters never import app, cli, ui or report"),
  layer(["src/app/**"], up("cli", "ui", "report"), "app never imports cli, ui or report"),
  layer(["src/report/**", "src/ui/**"], up("cli"), "report and ui never import cli"),
);
