#!/usr/bin/env node
// Prints the lab's shape as #18 measures it: the largest source files, and every function longer than
// --max-lines lines or with more than --max-params positional parameters (test/ excluded). It reads the
// sources with the TypeScript compiler's parser, so arrow functions, methods and React components count
// alike. Usage: node scripts/code-shape.mjs [--max-lines 60] [--max-params 5] [--top 15] [--json]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const maxLines = opt('max-lines', 60);
const maxParams = opt('max-params', 5);
const top = opt('top', 15);

const files = execFileSync('git', ['ls-files', '*.ts', '*.tsx', '*.mjs'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.startsWith('test/') && !f.endsWith('.d.ts'));

const sizes = [];
const fns = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  sizes.push({ file, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) });
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const end = src.getLineAndCharacterOfPosition(node.end).line;
      const lines = end - start + 1;
      const params = node.parameters.length;
      if (lines > maxLines || params > maxParams) fns.push({ file, line: start + 1, name: nameOf(node), lines, params });
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
}

function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) {
    const cls = node.parent && ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
    return cls + node.name.text;
  }
  const p = node.parent;
  if (p && ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return p.name.text;
  if (p && ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) return p.name.text;
  if (p && ts.isCallExpression(p) && ts.isIdentifier(p.expression)) return `<callback of ${p.expression.text}>`;
  if (p && ts.isCallExpression(p) && ts.isPropertyAccessExpression(p.expression)) return `<callback of .${p.expression.name.text}>`;
  return '<anonymous>';
}

sizes.sort((a, b) => b.lines - a.lines);
fns.sort((a, b) => b.lines - a.lines);
if (args.includes('--json')) {
  console.log(JSON.stringify({ files: sizes.slice(0, top), functions: fns }, null, 2));
} else {
  console.log(`Largest files (of ${files.length}, test/ excluded):`);
  for (const s of sizes.slice(0, top)) console.log(`  ${String(s.lines).padStart(5)}  ${s.file}`);
  const long = fns.filter((f) => f.lines > maxLines);
  const wide = fns.filter((f) => f.params > maxParams);
  console.log(`\nFunctions over ${maxLines} lines: ${long.length}`);
  for (const f of long) console.log(`  ${String(f.lines).padStart(5)}  ${f.name}  ${f.file}:${f.line}`);
  console.log(`\nFunctions with more than ${maxParams} positional parameters: ${wide.length}`);
  for (const f of wide.sort((a, b) => b.params - a.params)) console.log(`  ${String(f.params).padStart(5)}  ${f.name}  ${f.file}:${f.line}`);
}
