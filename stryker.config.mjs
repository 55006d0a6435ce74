// Mutation testing, a habit and not a CI step: `npm run mutate` (StrykerJS, jest runner).
// Stryker changes the code one small way at a time (a `<` into `<=`, a condition into `true`)
// and runs the tests that cover it: a mutant no test notices ("survived") is behaviour no test
// pins. The per-file scores print at the end; reports/mutation/mutation.html shows each survivor.
//
// Incremental: results are kept in reports/stryker-incremental.json and a run re-tests only the
// mutants whose code or covering tests changed since (a full run: `npm run mutate -- --force`).
// That file records sources and test names with paths relative to the repository, so it is
// committed: a fresh clone's first run is incremental too.
//
// @stryker-mutator/core 9.x: 10.x needs Node >= 22, this package supports Node 20.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  packageManager: 'npm',
  mutate: [
    'src/**/*.ts',
    // The components' tests ask for jsdom in a docblock (`@jest-environment jsdom`), which bypasses
    // the environment Stryker wraps to see which test covers which mutant: they cannot run here.
    '!src/components/**',
    // The server: the plugin, the memory store and the access_token are pure TypeScript. The Redis
    // store's logic is mostly Lua inside strings, which Stryker cannot mutate usefully.
    'server/**/*.ts',
    '!server/redis-store.ts',
    // Only re-exports, or JSON schemas and types (static: they would need every test, for each mutant).
    '!src/index.ts',
    '!server/index.ts',
    '!server/schemas.ts',
  ],
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    config: {
      // Stryker runs, for each mutant, the tests related to its file (jest --findRelatedTests),
      // which follows imports only through files inside `roots`: with test/ alone, the tests that
      // reach the plugin through the reference server or the emulator were never run for its
      // mutants, which then "survived" with no test run at all.
      roots: ['<rootDir>/test', '<rootDir>/src', '<rootDir>/server', '<rootDir>/reference-server', '<rootDir>/emulator', '<rootDir>/scripts'],
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // Tests that drive the code in another process (the demo, two real server processes) kill
      // nothing there: mutants are switched on in the test process only. The fuzz test sends 10,000
      // requests per run (about 10 s), for each mutant of the plugin it covers.
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/test/e2e/',
        '<rootDir>/test/server/multi-instance.test.ts',
        '<rootDir>/test/server/fuzz.test.ts',
        '<rootDir>/test/components/',
      ],
    },
  },
  coverageAnalysis: 'perTest',
  // Mutants that only run while a module loads (constants) would each need the whole suite.
  ignoreStatic: true,
  // Stryker's mutants do not type-check; ts-jest only transpiles here (isolatedModules), this
  // stops it from reporting type errors in the mutated files of server/ too.
  disableTypeChecks: '{src,server,test}/**/*.ts',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // Two workers: the tests start servers and a redis-server of their own; more do not fit on a
  // small machine (or one shared with others).
  concurrency: 2,
  // A mutant that hangs (a loop that never ends, a request never answered) is given this long
  // beyond its tests' normal time before it counts as "timeout" (a detected mutant).
  timeoutMS: 10_000,
  // Keep the sandbox copy small: built output, the example apps (with their own node_modules
  // once check:examples ran), the demo app and scratch folders are not needed by the tests run.
  ignorePatterns: ['/examples', '/miniprogram', '/dist', '/miniprogram_dist', '/components', '/.tmp', '/coverage', '/test/e2e', '/test/types/compat/node_modules', '*.tgz'],
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // The terminal gets the score per file; the survivors, with their code, are in the HTML report.
  clearTextReporter: { allowColor: false, logTests: false, reportTests: false, reportMutants: false, reportScoreTable: true },
  thresholds: { high: 80, low: 60, break: null },
};
