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
    // The DHIS2 emulator is a fake of another system: only the embedded-default wiring, its own CLI
    // and the tests and benches may import it (docs/architecture.md, "The emulator behind a wall").
    files: ['src/**/*.ts'],
    ignores: ['src/emulator/**', 'src/server/embedded.ts', 'src/cli/dhis2-emulator.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/emulator', '**/emulator/*', '**/emulator/**'],
              message: 'The DHIS2 emulator is behind a wall: reach it through src/server/embedded.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**', 'bench/**', 'bin/**', 'src/cli/dhis2-emulator.ts', 'src/channels/console/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['bin/**/*.js', 'public/**/*.js', 'src/server/simulator/**/*.js'],
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        document: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
      },
    },
  },
);
