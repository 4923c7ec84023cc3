import type { Config } from "jest";

// Suites are isolated (own database, namespace, Redis prefix, queue names), so they run
// in parallel; two workers match CI's two cores.
const config: Config = {
  testEnvironment: "node",
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2023", parser: { syntax: "typescript" } } }],
    // uuid 14 ships ESM only; jest's CommonJS runtime needs it compiled (Node itself loads it with require(esm)).
    "/node_modules/(jose|uuid|file-type|strtok3|token-types|uint8array-extras|@tokenizer/[^/]+|@borewit/[^/]+)/.+\\.js$":
      ["@swc/jest", { jsc: { target: "es2023" }, module: { type: "commonjs" } }],
  },
  // file-type (media sniffing) and its readers are ESM only too.
  transformIgnorePatterns: [
    "/node_modules/(?!(jose|uuid|file-type|strtok3|token-types|uint8array-extras|@tokenizer|@borewit)/)",
  ],
  testMatch: ["<rootDir>/test/**/*.spec.ts"],
  maxWorkers: 2,
  testTimeout: 30_000,
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  globalTeardown: "<rootDir>/test/support/global-teardown.ts",
  reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};

export default config;
