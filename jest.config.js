/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleNameMapper: { '^wx-login-kit$': '<rootDir>/src/index.ts', '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Every test but the slow ones (which set their own: test/e2e, multi-instance, fuzz) takes
  // under 1.5 s on an idle 2-core machine and under 2.5 s at load 5 (2026-12-01); 20 s is more
  // than ten times the idle figure.
  testTimeout: 20000,
};
