/**
 * No silent CPU fallback: every node of the engine's decoder graph runs on the
 * WebGPU provider, and the contrib ops the quantised graph is moving to
 * (com.microsoft.MatMulNBits, 4- and 8-bit with uint8 zero points, blocks of
 * 16 and 32; GatherBlockQuantized) have WebGPU kernels — while MatMulNBits
 * with float zero points has none and lands on the CPU (shared/docs/
 * environment.md §5), which proves the check can fail. Placement is read from
 * onnxruntime's own log in a child process (placement.ts).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Engine } from '../../../electron/engine/engine.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { inMemoryModel, testCacheDir } from '../engine-helpers.ts';
import { randomModel } from '../reference/random-model.ts';
import { sharedPath } from '../shared-data.ts';
import { nodePlacements, parsePlacementLog } from './placement.ts';
import type { Placement } from './placement.ts';
import { gatherBlockQuantizedModel, matMulNBitsModel } from './quant-ops.ts';
import type { GatherBlockQuantizedCase, MatMulNBitsCase } from './quant-ops.ts';
import { useSwiftShader } from './swiftshader.ts';

const WEBGPU = 'WebGpuExecutionProvider';
const CPU = 'CPUExecutionProvider';

/** Fails naming every node that left the GPU. */
function assertAllOnWebGpu(p: Placement, what: string): void {
  const elsewhere = Object.entries(p.counts).filter(([ep]) => ep !== WEBGPU);
  assert.deepEqual(
    elsewhere,
    [],
    `${what}: nodes off the WebGPU provider: ${elsewhere.map(([ep, n]) => `${n} on ${ep} (${(p.nodes[ep] ?? []).join(', ')})`).join('; ')}`,
  );
  assert.ok((p.counts[WEBGPU] ?? 0) > 0, `${what}: no node on WebGPU`);
}

/** The engine's graph for a model, built (and cached) by Engine.create on the CPU. */
async function graphOf(model: Parameters<typeof Engine.create>[0]): Promise<string> {
  const e = await Engine.create(model, { cacheDir: testCacheDir(), threads: 1 });
  await e.dispose();
  return e.info.graphPath;
}

const MATMUL_ON_GPU: MatMulNBitsCase[] = [
  { bits: 4, blockSize: 16, zeroPoints: 'uint8' },
  { bits: 4, blockSize: 32, zeroPoints: 'uint8' },
  { bits: 4, blockSize: 32, zeroPoints: 'none' },
  { bits: 8, blockSize: 16, zeroPoints: 'uint8' },
  { bits: 8, blockSize: 32, zeroPoints: 'uint8' },
];
const GATHER_ON_GPU: GatherBlockQuantizedCase[] = [
  { bits: 4, blockSize: 16, zeroPoints: true },
  { bits: 4, blockSize: 32, zeroPoints: false },
  { bits: 8, blockSize: 16, zeroPoints: false },
  { bits: 8, blockSize: 32, zeroPoints: true },
];
const MATMUL_FLOAT_ZP: MatMulNBitsCase = { bits: 4, blockSize: 32, zeroPoints: 'float' };

describe('WebGPU node placement (SwiftShader)', () => {
  before(useSwiftShader);

  it('parses both forms of the placement log', () => {
    const split = parsePlacementLog(
      [
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Reshape (logits_node)',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 2',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Gather (gather_0_node)',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   MatMul (matmul_11_node)',
        '2026-12-06 21:10:30.98 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping',
      ].join('\n'),
    );
    assert.deepEqual(split.counts, { [CPU]: 1, [WEBGPU]: 2 });
    assert.deepEqual(split.nodes, { [CPU]: ['Reshape (logits_node)'], [WEBGPU]: ['Gather (gather_0_node)', 'MatMul (matmul_11_node)'] });
    const all = parsePlacementLog('... VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 346\n');
    assert.deepEqual(all, { counts: { [WEBGPU]: 346 }, nodes: {} });
  });

  it("places every node of the engine's decoder graph on WebGPU (stories260K; a GQA 2 model with qkv bias and an untied head)", async () => {
    const stories = await graphOf(await loadModel(sharedPath('models/stories260K/stories260K.gguf')));
    const random = await graphOf(
      inMemoryModel(
        randomModel({
          vocab: 97,
          hidden: 48,
          inter: 80,
          layers: 2,
          heads: 4,
          kvHeads: 2,
          headDim: 16,
          qkvBias: true,
          tied: false,
          ropeLayout: 'interleaved',
          ropeTheta: 10000,
          seed: 5,
        }),
      ),
    );
    const [a, b] = await nodePlacements([stories, random]);
    assert.ok(a && b);
    assertAllOnWebGpu(a, 'stories260K decoder');
    assertAllOnWebGpu(b, 'GQA 2 random decoder');
  });

  it('places MatMulNBits (4/8-bit, uint8 or no zero points, blocks 16/32) and GatherBlockQuantized (4/8-bit, blocks 16/32) on WebGPU; MatMulNBits with float zero points on the CPU', async () => {
    const models = [...MATMUL_ON_GPU.map(matMulNBitsModel), ...GATHER_ON_GPU.map(gatherBlockQuantizedModel), matMulNBitsModel(MATMUL_FLOAT_ZP)];
    const placed = await nodePlacements(models);
    const labels = [...MATMUL_ON_GPU.map((c) => `MatMulNBits ${JSON.stringify(c)}`), ...GATHER_ON_GPU.map((c) => `GatherBlockQuantized ${JSON.stringify(c)}`)];
    labels.forEach((label, i) => assertAllOnWebGpu(placed[i] ?? { counts: {}, nodes: {} }, label));
    // Documented: no WebGPU kernel for float zero points, so this node silently runs on the CPU — the check sees it.
    assert.deepEqual(placed[labels.length]?.counts, { [CPU]: 1 });
  });
});
