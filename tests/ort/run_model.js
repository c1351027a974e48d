#!/usr/bin/env node
// Runs ONNX models in ONNX Runtime (onnxruntime-node, CPU) as a real consumer
// of the files onnx-reinit writes.
//
// Usage: node run_model.js [--modules DIR] MODEL.onnx [MODEL2.onnx ...]
//
// onnxruntime-node is looked up in DIR (a node_modules folder) when --modules
// is given, otherwise through the normal require() resolution, which honours
// NODE_PATH.
//
// For every model: create a CPU InferenceSession, build one input tensor per
// graph input from session.inputMetadata (available since onnxruntime-node
// 1.22; entries are {name, isTensor, type, shape} with symbolic dims given as
// strings), replacing dynamic/symbolic dims by 1, fill it with a fixed
// deterministic pseudo-random sequence in [-1, 1], run it and check that every
// element of every output tensor is finite (float16 outputs are decoded).
//
// Prints one line per model: "ok MODEL outputs=N" or "FAIL MODEL: reason".
// Exit status: 0 all ok, 1 at least one failure, 2 usage error.
'use strict';

const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`run_model.js: ${msg}\n`);
  process.stderr.write('usage: node run_model.js [--modules NODE_MODULES_DIR] MODEL.onnx [MODEL2.onnx ...]\n');
  process.exit(2);
}

function parseArgs(argv) {
  let modules = null;
  const models = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--modules') {
      if (i + 1 >= argv.length) usage('--modules needs a directory');
      modules = argv[++i];
    } else if (a.startsWith('--modules=')) {
      modules = a.slice('--modules='.length);
    } else if (a === '-h' || a === '--help') {
      usage();
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      models.push(a);
    }
  }
  if (models.length === 0) usage('no model given');
  return { modules, models };
}

function loadOrt(modules) {
  try {
    if (modules) return require(path.join(path.resolve(modules), 'onnxruntime-node'));
    return require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`run_model.js: cannot load onnxruntime-node` +
      `${modules ? ` from ${modules}` : ' (set NODE_PATH or use --modules)'}: ${e.message}\n`);
    process.exit(2);
  }
}

// Deterministic pseudo-random numbers in [-1, 1] (mulberry32), reseeded per model.
function makeRng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296; // [0, 1)
    return u * 2 - 1;
  };
}

// IEEE 754 half <-> double.
function halfToFloat(h) {
  const sign = (h & 0x8000) ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * Math.pow(2, -24);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * Math.pow(2, exp - 15);
}
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
function floatToHalf(v) {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    return sign | ((mant + (1 << (shift - 1))) >> shift);
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >> 13);
  if (mant & 0x1000) h += 1; // round half up; good enough for test inputs
  return h;
}

function makeInput(ort, meta, rng) {
  if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor`);
  const dims = (meta.shape || []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  let data;
  switch (meta.type) {
    case 'float32': data = Float32Array.from({ length: n }, rng); break;
    case 'float64': data = Float64Array.from({ length: n }, rng); break;
    case 'float16': data = Uint16Array.from({ length: n }, () => floatToHalf(rng())); break;
    case 'int64': data = BigInt64Array.from({ length: n }, () => BigInt(Math.round(rng()))); break;
    case 'int32': data = Int32Array.from({ length: n }, () => Math.round(rng())); break;
    case 'bool': data = Uint8Array.from({ length: n }, () => (rng() > 0 ? 1 : 0)); break;
    default: throw new Error(`input ${meta.name}: unsupported type ${meta.type}`);
  }
  return new ort.Tensor(meta.type, data, dims);
}

function checkOutput(name, value) {
  if (!value || typeof value !== 'object' || !('type' in value) || !('data' in value)) {
    throw new Error(`output ${name} is not a tensor`);
  }
  const { type, data } = value;
  if (type === 'float32' || type === 'float64') {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new Error(`output ${name}[${i}] = ${data[i]} is not finite`);
    }
  } else if (type === 'float16') {
    // Older versions return Uint16Array; newer may return Float16Array where available.
    const raw = data instanceof Uint16Array;
    for (let i = 0; i < data.length; i++) {
      const v = raw ? halfToFloat(data[i]) : Number(data[i]);
      if (!Number.isFinite(v)) throw new Error(`output ${name}[${i}] = ${v} is not finite`);
    }
  }
  // Integer / bool outputs are always finite.
  return data.length;
}

async function runOne(ort, model) {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  try {
    const metas = session.inputMetadata;
    if (!Array.isArray(metas) && !(metas && typeof metas.length === 'number')) {
      throw new Error('this onnxruntime-node has no session.inputMetadata (needs >= 1.22)');
    }
    const rng = makeRng(0x5eed1234);
    const feeds = {};
    for (const meta of metas) feeds[meta.name] = makeInput(ort, meta, rng);
    const results = await session.run(feeds);
    const names = Object.keys(results);
    if (names.length === 0) throw new Error('model produced no outputs');
    for (const name of names) checkOutput(name, results[name]);
    return names.length;
  } finally {
    if (typeof session.release === 'function') await session.release();
  }
}

async function main() {
  const { modules, models } = parseArgs(process.argv.slice(2));
  const ort = loadOrt(modules);
  ort.env.logLevel = 'error';
  let failed = 0;
  for (const model of models) {
    try {
      const n = await runOne(ort, model);
      process.stdout.write(`ok ${model} outputs=${n}\n`);
    } catch (e) {
      failed++;
      const msg = String((e && e.message) || e).replace(/\s+/g, ' ').trim();
      process.stdout.write(`FAIL ${model}: ${msg}\n`);
    }
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`run_model.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
