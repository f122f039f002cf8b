/**
 * One-node ONNX models of the contrib ops the quantised decoder graph uses —
 * com.microsoft.MatMulNBits and GatherBlockQuantized — written with
 * onnx-proto directly (the engine's OnnxGraph builder writes float and int64
 * initializers only), for checking where onnxruntime places them.
 *
 * Layouts (onnxruntime's contrib op docs, ContribOperators.md):
 * - MatMulNBits: A float[M, K]; B uint8[N, K/bs, bs·bits/8]; scales float[N·K/bs];
 *   zero points either uint8, packed bits-wide, [N · ⌈(K/bs)·bits/8⌉], or float [N·K/bs].
 * - GatherBlockQuantized: data uint8[N, K·bits/8] (4-bit packed two per byte, quantize_axis
 *   the last), indices int64, scales float[N, K/bs], optional zero points packed like data.
 * Weights are zeros (placement does not depend on values).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
type ValueInfo = InstanceType<typeof onnx.ValueInfoProto>;

export interface MatMulNBitsCase {
  readonly bits: 4 | 8;
  readonly blockSize: 16 | 32;
  readonly zeroPoints: 'none' | 'uint8' | 'float';
}
export interface GatherBlockQuantizedCase {
  readonly bits: 4 | 8;
  readonly blockSize: 16 | 32;
  readonly zeroPoints: boolean;
}

const K = 64;
const N = 32;

function init(name: string, dataType: number, dims: number[], bytes: number) {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: new Uint8Array(bytes) });
}
function io(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}
function attrs(a: Record<string, number>) {
  return Object.entries(a).map(([name, i]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i }));
}
function serialize(
  node: InstanceType<typeof onnx.NodeProto>,
  inits: InstanceType<typeof onnx.TensorProto>[],
  inputs: ValueInfo[],
  outputs: ValueInfo[],
): Uint8Array {
  const graph = onnx.GraphProto.create({ name: 'quant-op', node: [node], initializer: inits, input: inputs, output: outputs });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'kv-lab-test',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** y[M, N] = a[M, K] · dequant(B)ᵀ with one MatMulNBits node named `matmul_nbits`. */
export function matMulNBitsModel(c: MatMulNBitsCase): Uint8Array {
  const blocks = K / c.blockSize;
  const inits = [init('B', T.UINT8, [N, blocks, (c.blockSize * c.bits) / 8], (N * K * c.bits) / 8), init('scales', T.FLOAT, [N * blocks], N * blocks * 4)];
  const inputs = ['a', 'B', 'scales'];
  if (c.zeroPoints === 'uint8') {
    const perRow = Math.ceil((blocks * c.bits) / 8);
    inits.push(init('zp', T.UINT8, [N * perRow], N * perRow));
    inputs.push('zp');
  } else if (c.zeroPoints === 'float') {
    inits.push(init('zp', T.FLOAT, [N * blocks], N * blocks * 4));
    inputs.push('zp');
  }
  const node = onnx.NodeProto.create({
    opType: 'MatMulNBits',
    domain: 'com.microsoft',
    name: 'matmul_nbits',
    input: inputs,
    output: ['y'],
    attribute: attrs({ K, N, bits: c.bits, block_size: c.blockSize }),
  });
  return serialize(node, inits, [io('a', T.FLOAT, ['M', K])], [io('y', T.FLOAT, ['M', N])]);
}

/** y[S, K] = dequant(data)[ids] with one GatherBlockQuantized node named `gather_block_quantized`. */
export function gatherBlockQuantizedModel(c: GatherBlockQuantizedCase): Uint8Array {
  const blocks = K / c.blockSize;
  const inits = [init('data', T.UINT8, [N, (K * c.bits) / 8], (N * K * c.bits) / 8), init('scales', T.FLOAT, [N, blocks], N * blocks * 4)];
  const inputs = ['data', 'ids', 'scales'];
  if (c.zeroPoints) {
    inits.push(init('zp', T.UINT8, [N, Math.ceil((blocks * c.bits) / 8)], N * Math.ceil((blocks * c.bits) / 8)));
    inputs.push('zp');
  }
  const node = onnx.NodeProto.create({
    opType: 'GatherBlockQuantized',
    domain: 'com.microsoft',
    name: 'gather_block_quantized',
    input: inputs,
    output: ['y'],
    attribute: attrs({ gather_axis: 0, quantize_axis: 1, block_size: c.blockSize, bits: c.bits }),
  });
  return serialize(node, inits, [io('ids', T.INT64, ['S'])], [io('y', T.FLOAT, ['S', K])]);
}
