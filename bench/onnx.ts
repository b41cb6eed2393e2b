/**
 * Just enough of the ONNX format (protobuf) to read a model's weights and graph, for the dev-only
 * converters in bench/: initializers (TensorProto) and nodes (NodeProto, with the subgraphs of
 * If/Loop attributes) of a ModelProto. Field numbers from onnx/onnx.proto.
 */
import * as fs from 'fs';

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** TensorProto.DataType: 1 float, 2 uint8, 3 int8, 6 int32, 7 int64, 10 float16. */
  dataType: number;
  /** Raw little-endian bytes (raw_data, or the typed fields re-encoded). */
  raw: Uint8Array;
}

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Subgraphs of attributes (If's then/else branches). */
  subgraphs: OnnxGraph[];
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }

  /** Fields as [number, wireType, value]: varint -> number, length-delimited -> sub-array. */
  *fields(): Generator<[number, number, number | Uint8Array]> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) yield [field, wire, this.varint()];
      else if (wire === 2) {
        const len = this.varint();
        const sub = this.buf.subarray(this.pos, this.pos + len);
        this.pos += len;
        yield [field, wire, sub];
      } else if (wire === 5) {
        const v = this.buf.subarray(this.pos, this.pos + 4);
        this.pos += 4;
        yield [field, wire, v];
      } else if (wire === 1) {
        const v = this.buf.subarray(this.pos, this.pos + 8);
        this.pos += 8;
        yield [field, wire, v];
      } else throw new Error(`onnx: unsupported protobuf wire type ${wire}`);
    }
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

function packedVarints(b: Uint8Array): number[] {
  const r = new Reader(b);
  const out: number[] = [];
  while (r.pos < b.length) out.push(r.varint());
  return out;
}

function readTensor(b: Uint8Array): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0, raw: new Uint8Array(0) };
  const floats: number[] = [];
  const ints: number[] = [];
  for (const [f, wire, v] of new Reader(b).fields()) {
    if (f === 1) t.dims.push(...(wire === 2 ? packedVarints(v as Uint8Array) : [v as number]));
    else if (f === 2) t.dataType = v as number;
    else if (f === 8) t.name = text(v as Uint8Array);
    else if (f === 9) t.raw = v as Uint8Array;
    else if (f === 4) {
      const u = v as Uint8Array;
      const view = new DataView(u.buffer, u.byteOffset, u.byteLength);
      for (let i = 0; i + 4 <= u.byteLength; i += 4) floats.push(view.getFloat32(i, true));
    } else if (f === 5 || f === 7) ints.push(...(wire === 2 ? packedVarints(v as Uint8Array) : [v as number]));
  }
  if (!t.raw.length && floats.length) t.raw = new Uint8Array(new Float32Array(floats).buffer);
  if (!t.raw.length && ints.length) {
    // int32_data carries int8/uint8/int32 values one per entry; int64_data int64 (small values here).
    if (t.dataType === 3) t.raw = new Uint8Array(Int8Array.from(ints.map((x) => (x > 127 ? x - 256 : x))).buffer);
    else if (t.dataType === 2) t.raw = Uint8Array.from(ints);
    else t.raw = new Uint8Array(Int32Array.from(ints).buffer);
  }
  return t;
}

function readNode(b: Uint8Array): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', inputs: [], outputs: [], subgraphs: [] };
  for (const [f, , v] of new Reader(b).fields()) {
    if (f === 1) n.inputs.push(text(v as Uint8Array));
    else if (f === 2) n.outputs.push(text(v as Uint8Array));
    else if (f === 3) n.name = text(v as Uint8Array);
    else if (f === 4) n.opType = text(v as Uint8Array);
    else if (f === 5) {
      // AttributeProto: g = 6, graphs = 11.
      for (const [af, , av] of new Reader(v as Uint8Array).fields()) {
        if (af === 6 || af === 11) n.subgraphs.push(readGraph(av as Uint8Array));
      }
    }
  }
  return n;
}

function readGraph(b: Uint8Array): OnnxGraph {
  const g: OnnxGraph = { nodes: [], initializers: new Map() };
  for (const [f, , v] of new Reader(b).fields()) {
    if (f === 1) g.nodes.push(readNode(v as Uint8Array));
    else if (f === 5) {
      const t = readTensor(v as Uint8Array);
      g.initializers.set(t.name, t);
    }
  }
  return g;
}

/** The main graph of an .onnx file (external data is not supported). */
export function readOnnx(file: string): OnnxGraph {
  const buf = new Uint8Array(fs.readFileSync(file));
  for (const [f, , v] of new Reader(buf).fields()) if (f === 7) return readGraph(v as Uint8Array);
  throw new Error(`${file}: no graph in this ONNX model`);
}

/** Every node of a graph and of its subgraphs, and every initializer, flattened. */
export function flatten(g: OnnxGraph): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers = new Map(g.initializers);
  const walk = (x: OnnxGraph) => {
    for (const n of x.nodes) {
      nodes.push(n);
      for (const s of n.subgraphs) {
        for (const [k, t] of s.initializers) initializers.set(k, t);
        walk(s);
      }
    }
  };
  walk(g);
  return { nodes, initializers };
}

/** Tensor values as float32 (float, float16, int8, uint8 and int32/int64 tensors). */
export function toFloat32(t: OnnxTensor): Float32Array {
  const b = t.raw;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t.dataType) {
    case 1: return Float32Array.from({ length: b.byteLength / 4 }, (_, i) => dv.getFloat32(i * 4, true));
    case 2: return Float32Array.from(b);
    case 3: return Float32Array.from(new Int8Array(b.buffer, b.byteOffset, b.byteLength));
    case 6: return Float32Array.from({ length: b.byteLength / 4 }, (_, i) => dv.getInt32(i * 4, true));
    case 7: return Float32Array.from({ length: b.byteLength / 8 }, (_, i) => Number(dv.getBigInt64(i * 8, true)));
    default: throw new Error(`onnx: tensor ${t.name} has data type ${t.dataType}, not supported`);
  }
}
