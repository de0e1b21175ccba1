// Lint rules, configured once: typescript-eslint with type information, Prettier's formatting as a
// check, and the workflow sandbox's rules (deterministic code only) for workflows/ and common/.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Node built-ins and modules with side effects: never inside the workflow sandbox. */
const sandboxImports = {
  paths: [
    ...[
      'fs',
      'path',
      'os',
      'child_process',
      'crypto',
      'net',
      'http',
      'https',
      'stream',
      'url',
      'util',
      'events',
      'timers',
      'worker_threads',
    ].map((name) => ({ name, message: 'workflow code is deterministic: Node built-ins belong in activities' })),
    { name: 'pg', message: 'workflow code is deterministic: database access belongs in activities' },
    { name: '@temporalio/activity', message: 'activity APIs are not for workflow code' },
    { name: '@temporalio/client', message: 'client APIs are not for workflow code' },
    { name: '@temporalio/worker', message: 'worker APIs are not for workflow code' },
  ],
  patterns: [
    { group: ['node:*'], message: 'workflow code is deterministic: Node built-ins belong in activities' },
    {
      group: ['**/activities/**', '**/client/**', '**/worker/**', '**/config/**'],
      allowTypeImports: true,
      message: 'workflow code imports only types from activities, clients, the worker and the configuration',
    },
    { group: ['@aws-sdk/*', '@slack/*'], message: 'side effects belong in activities' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.lifeboat/', '.test-logs/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts', 'eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Errors are rewrapped with the cause's message in their own: people read the outermost one,
      // and failureText() reads the innermost, so a chained cause would hide the rewrapped words.
      'preserve-caught-error': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', sandboxImports],
      // An import for its side effects only would run them inside the sandbox.
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportDeclaration[specifiers.length=0]', message: 'no side-effecting imports in workflow code' },
      ],
    },
  },
  // Fakes and fixtures read loosely typed JSON from the code under test.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // The board's one browser script (no build step): the browser's globals.
  {
    files: ['client/board/static/*.js'],
    languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', EventSource: 'readonly' } },
  },
  prettier,
);
