// Lint rules, including the layer rules of STYLE.md: the pure core may not reach for I/O, time or
// randomness, and packages are imported only through their entry points.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const impureGlobals = [
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "process",
  "Date",
  "performance",
  "crypto",
  "fetch",
].map((name) => ({ name, message: "The core is pure: time, randomness and I/O come in as arguments." }));

const entryPointOnly = { group: ["@paxos/*/*"], message: "Import a package only through its entry point." };
const noServices = { group: ["@paxos/service-*"], message: "Nothing imports a service: services are processes." };

export default tseslint.config(
  { ignores: ["**/build/**", "**/node_modules/**", ".data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": ["error", { patterns: [entryPointOnly, noServices] }],
    },
  },
  // Adapters depend on the core's types (the wire format, the stored record format), never on each other.
  ...["store-redis", "store-file", "transport-nats", "embedded", "telemetry"].map((adapter) => ({
    files: [`packages/${adapter}/src/**/*.ts`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            entryPointOnly,
            noServices,
            {
              regex: `^@paxos/(?!core$|wire$|store-records$)`,
              message:
                "Adapters depend only on @paxos/core, @paxos/wire and @paxos/store-records, never on each other or on hosts.",
            },
          ],
        },
      ],
    },
  })),
  // The stored record format is shared by the store adapters and builds on the core alone.
  {
    files: ["packages/store-records/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            entryPointOnly,
            noServices,
            { regex: "^@paxos/(?!core$)", message: "@paxos/store-records depends only on @paxos/core." },
          ],
        },
      ],
    },
  },
  {
    files: ["packages/core/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "^node:", message: "The core is pure: no Node.js modules." },
            {
              regex: "^(fs|net|timers|crypto|os|child_process|http|https|dgram|worker_threads)(/.*)?$",
              message: "The core is pure: no I/O.",
            },
            { regex: "^@paxos/", message: "The core depends on nothing." },
          ],
        },
      ],
      "no-restricted-globals": ["error", ...impureGlobals],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "The core is pure: randomness comes in as an argument." },
        { object: "Date", property: "now", message: "The core is pure: time comes in as an argument." },
        { object: "globalThis", message: "The core is pure: no ambient globals." },
      ],
    },
  },
  // The drivers are deterministic: time comes from the injected Clock, randomness from the host.
  // They may use @opentelemetry/api, a no-op until a host registers the SDK: spans record, never decide.
  {
    files: ["packages/drivers/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            entryPointOnly,
            { regex: "^node:", message: "Drivers are deterministic: inject what they need." },
            { regex: "^@paxos/(?!core$)", message: "Drivers depend only on @paxos/core." },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        ...impureGlobals.map((g) => ({ ...g, message: "Drivers are deterministic: use the injected Clock." })),
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "Drivers are deterministic: randomness is injected." },
        { object: "Date", property: "now", message: "Drivers are deterministic: use the injected Clock." },
      ],
    },
  },
  {
    files: ["**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
);
