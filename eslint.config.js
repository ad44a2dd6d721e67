// Lint: typescript-eslint's recommended rules over the TypeScript sources, plus the rules reviewers
// check in code this asynchronous and this layered:
// - type-aware promise rules (no-floating-promises, no-misused-promises);
// - no import cycles;
// - the plugin boundary: code under plugins/ imports tsstore only through its public entries
//   (`tsstore/plugin`, and in tests `tsstore/testing`, `tsstore` and the repo's test/support);
// - the layers, bottom-up: plugin contract + kit (src/plugin) → core helpers (src/core) →
//   config → stores, metrics and pipeline → HTTP, CLI, commands and the server.
'use strict';
const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');
const { createTypeScriptImportResolver } = require('eslint-import-resolver-typescript');

const TEST_FILES = [
  '**/*.test.ts',
  '**/test-*.ts',
  'plugins/sinks/blockfile/crash-writer.ts',
  'plugins/sinks/blockfile/disk-full-scenario.ts',
  'plugins/contrib/*/test/**',
];

/**
 * Imports a plugin may not make: tsstore's source tree or build output by path (three or more
 * levels up from plugins/<kind>/<name>/ is the repository root), or its DI container. Tests may
 * also use `tsstore` (embedding: checkConfig, TsstoreServer) and the repository's test/support.
 */
const internals = ({ forTests }) => ({
  patterns: [
    {
      regex: `^(\\.\\./){3,}(src|dist|bench${forTests ? '' : '|test'})(/|$)`,
      message: 'Plugins import tsstore only through its public entries: tsstore/plugin (and tsstore/testing in tests). See docs/plugins.md.',
    },
    ...(forTests ? [{ regex: '^(\\.\\./){3,}test/(?!support/)', message: 'Tests of plugins may use test/support only.' }] : []),
    { group: ['tsyringe', 'reflect-metadata'], message: 'Plugins never see the DI container: they get their context objects.' },
    forTests
      ? { regex: '^tsstore/(?!plugin$|testing$)', message: 'Tests of plugins import tsstore, tsstore/plugin or tsstore/testing.' }
      : { regex: '^tsstore(/(?!plugin$).*)?$', message: 'Plugin code imports tsstore/plugin only (tsstore/testing and tsstore are for its tests).' },
  ],
});

/** Layer rules: each zone's target may not import from `from` (relative to the repo root). */
const zone = (target, from, why) => ({ target, from, message: why });
const LAYERS = [
  // The public entry (src/plugin/index.ts, not a target here) also re-exports the exact JSON helpers from src/core.
  {
    target: './src/plugin',
    from: './src',
    except: ['./plugin'],
    message: 'src/plugin (the contract and the kit) is the bottom layer: it imports nothing else of tsstore.',
  },
  zone(
    './src/core',
    [
      './src/client',
      './src/config',
      './src/stores',
      './src/metrics',
      './src/pipeline',
      './src/http',
      './src/cli',
      './src/commands',
      './src/testing',
      './src/server',
      './src/server.ts',
      './src/index.ts',
      './plugins',
    ],
    'src/core sits on the plugin contract only.',
  ),
  zone(
    './src/client',
    [
      './src/config',
      './src/stores',
      './src/metrics',
      './src/pipeline',
      './src/http',
      './src/cli',
      './src/commands',
      './src/testing',
      './src/server',
      './src/server.ts',
      './src/index.ts',
      './src/migrate',
      './plugins',
    ],
    'src/client (tsstore/client) stands on the plugin contract and the JSON helpers only: a client never loads the server.',
  ),
  zone(
    './src/config',
    [
      './src/client',
      './src/stores',
      './src/metrics',
      './src/pipeline',
      './src/http',
      './src/cli',
      './src/commands',
      './src/testing',
      './src/server',
      './src/server.ts',
      './plugins',
    ],
    'src/config sits below stores and pipeline.',
  ),
  zone(
    ['./src/stores', './src/metrics', './src/pipeline'],
    ['./src/client', './src/http', './src/cli', './src/commands', './src/testing', './src/server', './src/server.ts', './src/index.ts'],
    'Stores, metrics and pipeline sit below HTTP, CLI and the server.',
  ),
  zone(
    ['./src/stores', './src/metrics', './src/pipeline/runner.ts', './src/pipeline/registry.ts', './src/pipeline/pipeline-builder.ts'],
    './plugins',
    'Only the built-in list (src/pipeline/builtins.ts) and tsstore/testing name plugins.',
  ),
];

module.exports = tseslint.config(
  { ignores: ['dist/**', 'plugins/contrib/*/dist/**', 'node_modules/**', '**/node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.json', 'plugins/contrib/*/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // node:test's describe/it return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/plugin/index.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: LAYERS }] },
  },
  {
    files: ['plugins/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', internals({ forTests: false })] },
  },
  {
    files: TEST_FILES.map((f) => (f.startsWith('**') ? `plugins/${f}` : f)),
    rules: { 'no-restricted-imports': ['error', internals({ forTests: true })] },
  },
);
