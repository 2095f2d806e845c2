// Lint: type-aware TypeScript rules, plus the rule that keeps workflows deterministic — workflow code may import
// only @temporalio/workflow, @temporalio/common and pure modules; Node built-ins and I/O packages only as types.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const NODE_BUILTINS = [
  'fs',
  'path',
  'crypto',
  'http',
  'https',
  'net',
  'os',
  'child_process',
  'worker_threads',
  'dns',
  'stream',
  'zlib',
  'timers',
];
const IO_PACKAGES = [
  'pg',
  'ioredis',
  'weaviate-client',
  '@anthropic-ai/sdk',
  'prom-client',
  'fastify',
  'pino',
  '@electric-sql/*',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.data/**',
      'bench/results/**',
      'bench/peers/node_modules/**',
      'coverage/**',
      '**/dist/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.mts',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/ignore': ['node_modules'], 'import-x/extensions': ['.ts'] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'import-x/no-cycle': 'error',
      eqeqeq: ['error', 'always'],
      // Handlers and interface implementations are async by contract even when a body has nothing to await.
      '@typescript-eslint/require-await': 'off',
      // Too noisy for code that parses JSON from the wire and from SQL rows, which zod or the schema already check.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.flatMap((m) => [
            { name: m, message: 'workflow code must be deterministic: no Node built-ins', allowTypeImports: true },
            {
              name: `node:${m}`,
              message: 'workflow code must be deterministic: no Node built-ins',
              allowTypeImports: true,
            },
          ]),
          patterns: [
            { group: IO_PACKAGES, message: 'workflow code must not do I/O; call an activity', allowTypeImports: true },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'workflows never read process.env: pass policy in' },
      ],
    },
  },
  {
    // The client package (packages/client) is built from src/client: no server module, no server dependency —
    // not even as a type, which its declarations would carry to every application that installs it.
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...IO_PACKAGES.filter((p) => p !== '@temporalio/client'), 'zod', 'lru-cache', 'commander'],
              message: 'the client package ships without server dependencies',
            },
            {
              regex: '^\\.\\./(?!model/failure-types$|\\.\\./workflows/(contract|validate|search-attributes)$)',
              message: 'the client package ships without server modules: declare what it needs in ./ports',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
