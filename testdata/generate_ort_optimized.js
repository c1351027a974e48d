#!/usr/bin/env node
// Saves testdata models as ONNX Runtime's own graph optimizer writes them: the fused and contrib
// ops (FusedConv, FusedMatMul, FusedGemm, SkipLayerNormalization, ...) that models shipped after
// `onnxruntime` optimization hold. Uses onnxruntime-node's `optimizedModelFilePath` session option.
//
// Usage (from the repository root, after a build with -DONNX_REINIT_ORT_TESTS=1):
//   node testdata/generate_ort_optimized.js build/tests/ort/node_modules
//
// Writes testdata/ort_LEVEL_NAME.onnx for LEVEL in extended, all and NAME in the models below, and
// ort_extended_NAME.onnx for the transformer fixtures of generate_transformer_models.py (level all
// writes the same graphs for them): SkipLayerNormalization fused over residual Adds, Gemm,
// FusedMatMul, Gelu, constant-folded lookups.
// Level "all" adds layout transformations for the CPU it runs on: the CNN gets com.microsoft.nchwc
// Convs whose weights are blocked for this CPU's vector width, so that file (named *_noort) is not
// run in ONNX Runtime by the tests, which may run on another CPU; the others are.
'use strict';

const path = require('path');

const modules = process.argv[2];
if (!modules) {
  process.stderr.write('usage: node generate_ort_optimized.js NODE_MODULES_DIR\n');
  process.exit(2);
}
const ort = require(path.join(path.resolve(modules), 'onnxruntime-node'));
const here = __dirname;
const models = ['torch_cnn', 'torch_transformer'];
const levels = ['extended', 'all'];
const cpuSpecific = new Set(['all_torch_cnn']);
const transformers = ['torch_bert', 'torch_gpt2', 'torch_llama', 'torch_megatron', 'torch_t5'];

async function optimize(name, level, suffix) {
  const output = path.join(here, `ort_${level}_${name}${suffix}.onnx`);
  await ort.InferenceSession.create(path.join(here, `${name}.onnx`), {
    graphOptimizationLevel: level,
    optimizedModelFilePath: output,
    executionProviders: ['cpu'],
  });
  console.log(`wrote ${path.relative(process.cwd(), output)}`);
}

async function main() {
  for (const name of models) {
    for (const level of levels) await optimize(name, level, cpuSpecific.has(`${level}_${name}`) ? '_noort' : '');
  }
  for (const name of transformers) await optimize(name, 'extended', '');
}

main().catch((e) => {
  process.stderr.write(`generate_ort_optimized.js: ${e.message}\n`);
  process.exit(1);
});
