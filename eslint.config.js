// ESLint flat config. The import-boundary rules are the point of this file:
// core/ is shared by the Electron main process and the renderer, so it must
// not import node built-ins, electron, React or any DOM API. The
// same boundary is enforced a second time by core/tsconfig.json (no DOM lib,
// no @types/node) and by test/core/boundary.test.ts.
import js from '@eslint/js';
import { builtinModules } from 'node:module';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));

export default tseslint.config(
  { ignores: ['node_modules/', '**/dist/', 'out/', '.cache/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // A function reads top to bottom: at most 60 lines and 5 positional parameters (more become an options
    // object). A function that must be longer says why in its disable comment.
    files: ['**/*.{ts,tsx,mjs}'],
    ignores: ['test/**'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, IIFEs: true }],
      'max-params': ['error', 5],
    },
  },
  {
    files: ['core/**/*.ts'],
    languageOptions: { globals: { ...globals.es2023 } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'core/ is shared with the renderer: no node built-ins.' })),
            { name: 'electron', message: 'core/ must not import electron.' },
            { name: 'react', message: 'core/ must not import React.' },
            { name: 'react-dom', message: 'core/ must not import React.' },
          ],
          patterns: [
            { group: ['node:*'], message: 'core/ is shared with the renderer: no node built-ins.' },
            { group: ['electron/*', 'react/*', 'react-dom/*', 'onnxruntime-*', 'zustand', 'recharts'], message: 'core/ is pure TypeScript.' },
            { group: ['**/electron/**', '**/renderer/**', '**/test/**', '**/scripts/**'], message: 'core/ must not import app code.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['window', 'document', 'navigator', 'localStorage', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'].map(
          (name) => ({ name, message: 'core/ runs in both the main process and the renderer.' }),
        ),
      ],
    },
  },
  {
    // The engine runs in Electron's utility process, the CLI, serve mode and the tests alike.
    files: ['electron/engine/**/*.ts', 'electron/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'electron/engine and the CLI are plain Node modules: no electron import.' }],
          patterns: [{ group: ['**/renderer/**'], message: 'The engine must not import the renderer.' }],
        },
      ],
    },
  },
  {
    // The renderer runs sandboxed in Electron or in a plain browser (serve mode): browser globals only, and it
    // reaches the engine only through the LabApi (window.lab or the HTTP client), never node:* or electron.
    files: ['renderer/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'The renderer runs in a browser: no node built-ins.' })),
            { name: 'electron', message: 'The renderer talks to the engine through LabApi, never electron.' },
          ],
          patterns: [
            { group: ['node:*'], message: 'The renderer runs in a browser: no node built-ins.' },
            { group: ['**/electron/**'], message: 'The renderer must not import main-process code.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'].map((name) => ({
          name,
          message: 'The renderer runs in a browser.',
        })),
      ],
    },
  },
  {
    files: ['test/**/*.{ts,tsx}', 'scripts/**/*.{ts,mjs,js}', '*.js', 'electron/**/*.{ts,mjs}', 'renderer/vite.config.ts'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Component tests run React under jsdom: browser globals as well as Node's.
    files: ['test/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
