import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.serverless/', '.esbuild/', 'coverage/', 'dist/', '**/*.js', '*.mjs', 'bench/results*'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The domain talks to ports only: no AWS SDK, no Lambda types, no middy, no environment.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['@aws-sdk/*', '@smithy/*'], message: 'src/domain must not import the AWS SDK; add a port and an adapter.' },
          { group: ['@middy/*'], message: 'src/domain must not import middy; middlewares belong in src/handlers.' },
          { group: ['aws-lambda'], message: 'src/domain must not depend on Lambda event types.' },
          { group: ['../adapters/*', '../handlers/*', '../../adapters/*', '../../handlers/*'], message: 'the domain does not know its adapters.' },
        ],
      }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read the environment in src/environment.ts only.' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
