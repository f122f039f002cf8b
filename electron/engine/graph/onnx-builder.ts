/**
 * A small typed builder over onnx-proto's generated protobuf classes: named
 * values, nodes with typed attributes, float32 initializers stored in ONNX
 * external data (so graphs of models over 2 GB serialise, and the protobuf
 * stays small), and serialisation.
 *
 * Hand-written because onnx-proto only provides the raw message classes; no
 * maintained JS library builds ONNX graphs.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type Dim = number | string;
export type AttrValue = number | readonly number[] | string | { readonly float: number };

export const ELEM = { float: 1, uint8: 2, int64: 7, float16: 10 } as const;
type ElemName = keyof typeof ELEM;

export interface ExternalChunk {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/**
 * Receives each external-data chunk as soon as its initializer is added, so a
 * graph builder can stream a multi-GB model to disk tensor by tensor and never
 * hold more than one converted tensor (the chunk is not retained afterwards).
 */
export type ExternalSink = (chunk: ExternalChunk) => void;

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly external: ExternalChunk[] = [];
  private readonly shared = new Map<string, { offset: number; length: number }>();
  private externalSize = 0;
  private counter = 0;

  /**
   * @param externalThreshold initializers with more bytes than this go to the external data file.
   * @param sink where external chunks go; without one they are kept and returned by `serialize`.
   */
  constructor(
    private readonly externalFile: string,
    private readonly externalThreshold = 1024,
    private readonly sink?: ExternalSink,
  ) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, elem: ElemName, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: ElemName, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** Adds a node; returns its output name(s). */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, AttrValue>> = {},
    opts: { readonly name?: string; readonly domain?: string; readonly outputs?: number } = {},
  ): string {
    const out = opts.name ?? this.fresh(opType.toLowerCase());
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: [...inputs],
        output: [out],
        name: `${out}_node`,
        domain: opts.domain ?? '',
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return out;
  }

  /** Adds a float32 initializer (external data above the threshold). */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    return this.tensor(name, 'float', dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Adds a uint8 initializer (packed quantised weights, zero points). */
  uint8(name: string, dims: readonly number[], data: Uint8Array): string {
    return this.tensor(name, 'uint8', dims, data);
  }

  /**
   * Adds an initializer of raw little-endian bytes; above the threshold they go
   * to the external data file. Initializers given the same `shareKey` point at
   * one stored range (e.g. a tied embedding read both by a gather and by the
   * LM head), so the bytes are written once.
   */
  tensor(name: string, elem: ElemName, dims: readonly number[], bytes: Uint8Array, shareKey?: string): string {
    if (bytes.byteLength > this.externalThreshold) {
      let range = shareKey !== undefined ? this.shared.get(shareKey) : undefined;
      if (!range) {
        // 64-byte alignment lets ORT memory-map the file.
        const offset = Math.ceil(this.externalSize / 64) * 64;
        if (this.sink) this.sink({ offset, bytes });
        else this.external.push({ offset, bytes });
        this.externalSize = offset + bytes.byteLength;
        range = { offset, length: bytes.byteLength };
        if (shareKey !== undefined) this.shared.set(shareKey, range);
      } else if (range.length !== bytes.byteLength) {
        throw new RangeError(`shared initializer '${shareKey}': ${bytes.byteLength} bytes, the stored range holds ${range.length}`);
      }
      this.inits.push(
        onnx.TensorProto.create({
          name,
          dims: [...dims],
          dataType: ELEM[elem],
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: this.externalFile },
            { key: 'offset', value: String(range.offset) },
            { key: 'length', value: String(range.length) },
          ],
        }),
      );
    } else {
      this.inits.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ELEM[elem], rawData: bytes.slice() }));
    }
    return name;
  }

  /** Adds an int64 initializer (small constants: shapes, axes, indices). */
  int64(values: readonly number[], name = this.fresh('i64')): string {
    const buf = new BigInt64Array(values.map((v) => BigInt(v)));
    this.inits.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: ELEM.int64, rawData: new Uint8Array(buf.buffer) }));
    return name;
  }

  /** A float32 scalar constant (shape [] ). */
  scalar(value: number, name = this.fresh('f32')): string {
    this.inits.push(onnx.TensorProto.create({ name, dims: [], dataType: ELEM.float, rawData: new Uint8Array(Float32Array.of(value).buffer) }));
    return name;
  }

  /** Serialises the model; external data chunks are returned for writing at their offsets. */
  serialize(graphName: string, opset: number): { model: Uint8Array; external: readonly ExternalChunk[]; externalSize: number } {
    const graph = onnx.GraphProto.create({ name: graphName, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'kv-lab',
      opsetImport: [
        { domain: '', version: opset },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph,
    });
    return { model: onnx.ModelProto.encode(model).finish(), external: this.external, externalSize: this.externalSize };
  }
}

function valueInfo(name: string, elem: ElemName, dims: readonly Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...(v as readonly number[])] });
  return onnx.AttributeProto.create({ name, type: T.FLOAT, f: (v as { float: number }).float });
}
