/**
 * Provenance stamped on every result row: which code, model, machine and
 * settings produced it, so a number in a report can be traced to its run and
 * rerun (as KVCache-Factory's run_meta.json does for its scripts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';

import type { GpuAdapterInfo, Provenance } from '@kvlab/core';
export type { Provenance };

const ROOT = join(import.meta.dirname, '..', '..');

let cached: Provenance | undefined;

/** Static facts about this process (computed once). */
export function provenance(): Provenance {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dirty) commit += '+dirty';
  } catch {
    // Not a git checkout (a packaged app): the version identifies the build.
  }
  let ort = 'unknown';
  try {
    ort = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // keep 'unknown'
  }
  const c = cpus();
  cached = {
    appVersion: pkg.version ?? '0.0.0',
    commit,
    node: process.version,
    onnxruntime: ort,
    machine: {
      hostname: hostname(),
      platform: platform(),
      release: release(),
      arch: arch(),
      cpu: c[0]?.model ?? 'unknown',
      cpus: c.length,
      memoryBytes: totalmem(),
    },
  };
  return cached;
}

/**
 * The per-engine part of a row's provenance: the provider, why it was used
 * and, on WebGPU, the adapter — so a row computed on a software adapter
 * (SwiftShader) says so wherever it travels.
 */
export function providerStamp(info: { readonly executionProvider: string; readonly providerReason?: string; readonly adapter?: GpuAdapterInfo }): {
  executionProvider: string;
  executionProviderReason?: string;
  adapter?: GpuAdapterInfo;
} {
  return {
    executionProvider: info.executionProvider,
    ...(info.providerReason ? { executionProviderReason: info.providerReason } : {}),
    ...(info.adapter ? { adapter: info.adapter } : {}),
  };
}

const hashes = new Map<string, string>();

/** sha256 of a model file (or of every file in a model folder, in name order), cached per path + size + mtime. */
export function fileSha256(path: string): string {
  const st = statSync(path);
  const key = `${path}:${st.size}:${st.mtimeMs}`;
  const hit = hashes.get(key);
  if (hit) return hit;
  const h = createHash('sha256');
  const files = st.isDirectory() ? listFiles(path) : [path];
  const buf = Buffer.alloc(8 << 20);
  for (const f of files) {
    h.update(f.slice(path.length));
    const fd = openSync(f, 'r');
    try {
      let n: number;
      while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  const digest = h.digest('hex');
  hashes.set(key, digest);
  return digest;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
