/**
 * core/ must stay importable from both the main process and the renderer: no
 * node built-ins, electron, React, DOM globals, or imports out of core/.
 * eslint and core/tsconfig.json enforce this too; this test makes it a test
 * failure even when someone runs only `npm run test:unit`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const coreDir = resolve(import.meta.dirname, '../../core');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const allowedPackages = new Set(
  Object.keys((JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}),
);
const builtins = new Set(builtinModules);

describe('core/ import boundary', () => {
  const sources = files(join(coreDir, 'src'));
  it('has sources to check', () => assert.ok(sources.length > 10));
  for (const file of sources) {
    it(relative(coreDir, file), () => {
      const text = readFileSync(file, 'utf8');
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const m of code.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          assert.ok(target.startsWith(join(coreDir, 'src')), `${spec} leaves core/src`);
          continue;
        }
        assert.ok(!spec.startsWith('node:') && !builtins.has(spec), `node built-in '${spec}'`);
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        assert.ok(allowedPackages.has(pkg), `'${spec}' is not a dependency of @kvlab/core (allowed: ${[...allowedPackages].join(', ')})`);
      }
      for (const g of ['window', 'document', 'navigator', 'process', 'Buffer', 'require', '__dirname']) {
        assert.ok(!new RegExp(`(?<![\\w.'"])${g}\\s*[.([]`).test(code), `uses the global '${g}'`);
      }
    });
  }
});
