import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', '.tmp-build-*/**', 'node_modules/**', 'coverage/**', 'tests/**/__artifacts__/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['src/cli/**', 'bench/**', 'bin/**', 'src/cli/dhis2-emulator.ts', 'src/channels/console/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['bin/**/*.js', 'public/**/*.js', 'src/server/simulator/**/*.js'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', document: 'readonly', window: 'readonly', fetch: 'readonly' } },
  },
);
