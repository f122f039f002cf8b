#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner through tsx.
// Node 20 has no glob support in `--test`, so the files are listed here.
// Output goes through the TAP reporter when piped (CI), which ends with the
// `# tests N / # pass N / # fail N` lines CI reads. Extra args are passed on
// (e.g. `npm run test:unit -- test/core/select.test.ts`).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const list = files.length ? files : find(join(root, 'test')).sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...flags, ...list], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
