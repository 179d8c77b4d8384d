// Lint rules that encode team decisions. The module-boundary rule is the important one:
// the agent never imports server code, libraries never import apps, each layer only depends on
// layers below it (app > feature > data > util > proto), and components never import each other.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Layering (type) and deployment (scope) rules. In tests, the harness (type:testing) is allowed
 * on top of the production rules; in production code it is not.
 */
function depConstraints({ tests }) {
  const t = (tags) => (tests ? [...tags, 'type:testing'] : tags);
  return [
    { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:agent', 'scope:shared'] },
    { sourceTag: 'scope:server', onlyDependOnLibsWithTags: ['scope:server', 'scope:shared'] },
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
    // The web UI runs in browsers: it may use the generated API contracts and nothing else.
    { sourceTag: 'scope:web', onlyDependOnLibsWithTags: ['type:proto'] },
    // Repo tooling (docs generators) reads every app's config, agent and server alike.
    { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:server', 'scope:agent', 'scope:shared'] },
    // A component (libs/components/<name>, tag kind:component) never imports another component:
    // what two components share lives in a library (e.g. @firn/admin, @firn/limits). Only the
    // all-in-one (kind:all-in-one) and each component's own app wire components together. Tests
    // may: an in-process cluster test (@firn/test-cluster) starts the components it exercises.
    ...(tests ? [] : [{ sourceTag: 'kind:component', notDependOnLibsWithTags: ['kind:component'] }]),
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: t(['type:feature', 'type:data', 'type:util', 'type:proto']) },
    { sourceTag: 'type:feature', onlyDependOnLibsWithTags: t(['type:feature', 'type:data', 'type:util', 'type:proto']) },
    { sourceTag: 'type:data', onlyDependOnLibsWithTags: t(['type:data', 'type:util', 'type:proto']) },
    { sourceTag: 'type:util', onlyDependOnLibsWithTags: t(['type:util', 'type:proto']) },
    { sourceTag: 'type:proto', onlyDependOnLibsWithTags: ['type:proto'] },
    { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:testing', 'type:data', 'type:util', 'type:proto'] },
    { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:testing', 'type:feature', 'type:data', 'type:util', 'type:proto'] },
    // The Grafana plugin runs inside Grafana's browser bundle: it imports no Firn project. Its
    // tests start Firn through the harness and the e2e support (startApp).
    { sourceTag: 'scope:plugin', onlyDependOnLibsWithTags: tests ? ['type:testing', 'type:e2e'] : [] },
  ];
}

const boundaries = (tests) => [
  'error',
  { enforceBuildableLibDependency: false, banTransitiveDependencies: false, allow: [], depConstraints: depConstraints({ tests }) },
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', 'libs/proto/src/gen/**', 'e2e/src/support/upstream-pyroscope/gen/**', '.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read the environment only through @firn/config (libs/config) or at an entry point.',
        },
      ],
      '@nx/enforce-module-boundaries': boundaries(false),
    },
  },
  {
    // One way into the ingest log: every ingest API (old and new) is an adapter over the gateway's
    // IngestPipeline, which owns limits, decoding and the idempotency key that makes a client's
    // retry count once (docs/architecture.md, "Idempotent ingest"). Appending elsewhere would skip them.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['libs/components/gateway/src/ingest/ingest-pipeline.ts', 'libs/ingest-log/**', '**/*.spec.ts', '**/*.int-spec.ts', '**/src/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@firn/ingest-log',
              importNames: ['appendIngest'],
              message:
                'Ingest goes through IngestPipeline.accept (libs/components/gateway/src/ingest): it derives the idempotency key, enforces limits and counts.',
            },
          ],
        },
      ],
    },
  },
  {
    // libs/bus owns the NATS SDK (docs/architecture.md, "Dependencies and their adapters"): everything
    // else, tests included, goes through Bus, BusKv and Leases. A separate rule id from the
    // appendIngest restriction above, so neither replaces the other's options.
    files: ['**/*.ts', '**/*.tsx'],
    ignores: ['libs/bus/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'nats',
              message: 'Only libs/bus touches the NATS SDK: use Bus / BusKv / Leases from @firn/bus (add a typed operation there if one is missing).',
            },
          ],
        },
      ],
    },
  },
  {
    // Entry points, the harness, tests and tooling may read the environment directly.
    files: [
      'apps/*/src/main.ts',
      'libs/testing/**/*.ts',
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      '**/*.e2e-spec.ts',
      'e2e/**/*.ts',
      'bench/**/*.ts',
      'tools/**/*.ts',
      'charts/**/*.ts',
      'plugins/*/tests/**/*.ts',
      'plugins/*/tests/**/*.tsx',
      'plugins/*/scripts/**/*.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Test-support modules (`src/testing/`) count as tests.
    files: [
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      '**/*.e2e-spec.ts',
      '**/*.conformance.ts',
      '**/src/testing/**/*.ts',
      'plugins/*/tests/**/*.ts',
      'plugins/*/tests/**/*.tsx',
    ],
    rules: { '@nx/enforce-module-boundaries': boundaries(true) },
  },
  {
    // Plain CommonJS scripts.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' },
    },
  },
];
