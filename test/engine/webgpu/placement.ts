/**
 * Where onnxruntime places each node of a model, read from its own log: a
 * session created with logSeverityLevel 0 / logVerbosityLevel 0 prints "All
 * nodes placed on [WebGpuExecutionProvider]. Number of nodes: N", or "Node
 * placements" followed by " Node(s) placed on [X]. Number of nodes: N" and one
 * "  OpType (node name)" line per node. onnxruntime writes that log to the
 * process's stderr (not to JS), so the session is created in a child process
 * and its stderr parsed. Reusable for any graph: the engine's decoder, or a
 * single contrib op (quant-ops.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Placement {
  /** Nodes per provider (e.g. { WebGpuExecutionProvider: 346 }). */
  readonly counts: Readonly<Record<string, number>>;
  /** Nodes listed by name when the graph is split ("OpType (name)"), per provider; empty when all are on one. */
  readonly nodes: Readonly<Record<string, readonly string[]>>;
}

export function parsePlacementLog(log: string): Placement {
  const counts: Record<string, number> = {};
  const nodes: Record<string, string[]> = {};
  let current: string[] | undefined;
  for (const line of log.split('\n')) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    const hit = all ?? some;
    if (hit?.[1]) {
      counts[hit[1]] = Number(hit[2]);
      current = some ? (nodes[hit[1]] = []) : undefined;
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}(\S.*)$/.exec(line);
    if (node?.[1] && current) current.push(node[1]);
    else if (!/VerifyEachNodeIsAssignedToAnEp/.test(line)) current = undefined;
  }
  return { counts, nodes };
}

// One child for many models: a marker line (written synchronously to fd 2) precedes each session, whose
// creation runs on the main thread (onnxruntime-node's backend), so each log lands after its marker.
const SCRIPT = `
const fs = require('node:fs');
const ort = require(process.argv[1]);
const providers = JSON.parse(process.argv[2]);
(async () => {
  const out = [];
  for (const path of process.argv.slice(3)) {
    fs.writeSync(2, '\\n@@placement ' + out.length + '\\n');
    try {
      const s = await ort.InferenceSession.create(path, { executionProviders: providers, logSeverityLevel: 0, logVerbosityLevel: 0 });
      await s.release();
      out.push('ok');
    } catch (e) {
      out.push('error ' + String(e.message).split('\\n')[0]);
    }
  }
  fs.writeSync(2, '\\n@@placement end\\n');
  process.stdout.write(JSON.stringify(out));
})();
`;

/**
 * Creates a session for each model (a path, or the bytes of a model without external data) on
 * `providers` in one child process (it inherits this process's environment, e.g. VK_ICD_FILENAMES) and
 * returns where each model's nodes went. Throws when a session fails or its log has no placement lines.
 */
export async function nodePlacements(models: readonly (string | Uint8Array)[], providers: readonly unknown[] = ['webgpu']): Promise<Placement[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kvlab-placement-'));
  try {
    const paths = models.map((m, i) => {
      if (typeof m === 'string') return m;
      const p = join(dir, `model-${i}.onnx`);
      writeFileSync(p, m);
      return p;
    });
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, ['-e', SCRIPT, ortPath, JSON.stringify(providers), ...paths], { maxBuffer: 256 << 20, timeout: 300_000 }, (err, so, se) =>
        err ? reject(new Error(`placement probe failed: ${err.message}\n${se.slice(-2000)}`)) : resolve({ stdout: so, stderr: se }),
      ),
    );
    const status = JSON.parse(stdout) as string[];
    const logs = stderr.split(/\n@@placement \S+\n/).slice(1);
    return paths.map((path, i) => {
      if (status[i] !== 'ok') throw new Error(`${path}: session failed: ${status[i]}`);
      const p = parsePlacementLog(logs[i] ?? '');
      if (Object.keys(p.counts).length === 0) throw new Error(`${path}: no node placement lines in onnxruntime's log:\n${(logs[i] ?? '').slice(-2000)}`);
      return p;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function nodePlacement(model: string | Uint8Array, providers: readonly unknown[] = ['webgpu']): Promise<Placement> {
  const [p] = await nodePlacements([model], providers);
  if (!p) throw new Error('no placement');
  return p;
}
