/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleNameMapper: { '^wx-login-kit$': '<rootDir>/src/index.ts' },
  testTimeout: 20000,
};
