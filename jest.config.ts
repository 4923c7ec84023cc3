import type { Config } from "jest";

const shared = {
  testEnvironment: "node",
  // The compiled build (npm run build) repeats every module and package.json.
  modulePathIgnorePatterns: ["<rootDir>/dist/"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2023", parser: { syntax: "typescript" } } }],
    // uuid 14, openid-client 6 and oidc-provider 9 (tests) ship ESM only; jest's CommonJS runtime needs it compiled (Node itself loads it with require(esm)).
    "/node_modules/(jose|openid-client|oauth4webapi|oidc-provider|uuid|file-type|strtok3|token-types|uint8array-extras|@tokenizer/[^/]+|@borewit/[^/]+)/.+\\.js$":
      ["@swc/jest", { jsc: { target: "es2023" }, module: { type: "commonjs" } }],
  },
  // file-type (media sniffing) and its readers are ESM only too.
  transformIgnorePatterns: [
    "/node_modules/(?!(jose|openid-client|oauth4webapi|oidc-provider|uuid|file-type|strtok3|token-types|uint8array-extras|@tokenizer|@borewit)/)",
  ],
} satisfies Config;

// Suites are isolated (own database, namespace, Redis prefix, queue names), so they run
// in parallel; two workers match CI's two cores. Two projects: the unit suites need no server
// (`npm run test:unit` runs only them); every other suite gets the servers' global setup, which
// checks that PostgreSQL, Redis, RabbitMQ and NATS answer and starts FerretDB (it runs only when
// a suite of that project is selected).
const config: Config = {
  maxWorkers: 2,
  // A run-wide option: jest ignores it inside a project.
  testTimeout: 30_000,
  reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
  projects: [
    {
      ...shared,
      displayName: "unit",
      testMatch: ["<rootDir>/test/unit/**/*.spec.ts"],
    },
    {
      ...shared,
      displayName: "servers",
      testMatch: ["<rootDir>/test/**/*.spec.ts"],
      testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/unit/"],
      // A RabbitMQ vhost per test file, deleted when the file is done (see the file).
      testEnvironment: "<rootDir>/test/support/vhost-environment.ts",
      globalSetup: "<rootDir>/test/support/global-setup.ts",
      globalTeardown: "<rootDir>/test/support/global-teardown.ts",
    },
  ],
};

export default config;
