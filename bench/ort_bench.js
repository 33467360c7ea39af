#!/usr/bin/env node
// ONNX Runtime's side of bench/infer: median latency of one batch.
//   ORT_NODE_MODULES=/abs/node_modules node ort_bench.js MODEL.onnx BATCH [SECONDS]
// The session is configured as the issue asks: graphOptimizationLevel 'all', 2 intra-op threads.
'use strict';
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_MODULES, 'onnxruntime-node'));

async function main() {
  const [model, batchArg, secondsArg] = process.argv.slice(2);
  const batch = parseInt(batchArg, 10), seconds = parseFloat(secondsArg || '3');
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const name = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  const dims = [batch, 3, 224, 224];
  if (meta && meta.shape) for (let i = 1; i < meta.shape.length; i++) dims[i] = meta.shape[i];
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 2654435761 % 4294967296) % 256;
  const feeds = { [name]: new ort.Tensor('float32', data, dims) };
  for (let w = 0; w < 2; w++) await session.run(feeds);
  const times = [];
  const start = process.hrtime.bigint();
  while (times.length < 5 || Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  console.log(JSON.stringify({ runs: times.length, median_s: med, images_per_s: batch / med }));
}
main().catch((e) => { console.error(e.message || e); process.exit(1); });
