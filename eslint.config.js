// Lint: typescript-eslint's recommended rules over the TypeScript sources.
'use strict';
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'plugins/contrib/*/dist/**', 'node_modules/**', '**/node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
