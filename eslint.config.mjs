// typescript-eslint, strict and type-checked, over the packages' sources (issue 17's habits);
// Prettier owns the layout (eslint-config-prettier turns the layout rules off).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/gen/**', '**/node_modules/**', 'examples/**', 'cli/templates/**', 'clients/**', 'coverage/**', '.tmp/**', 'test/**', 'bench/**', 'scripts/**', '*/test/**', '*/scripts/**', 'plugins/*/test/**', '**/*.mjs', '**/*.mts', '**/*.cjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    rules: {
      // Numbers and booleans in messages are what people read; objects still need an explicit rendering.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(x) => void f(x)` style arrows that return a void call are the idiom of our callbacks.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  prettier,
);
