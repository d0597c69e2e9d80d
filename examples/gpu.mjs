// WebGPU: the same batch on the GPU when an adapter is there (Node: the optional package
// webgpu; browsers: navigator.gpu), else on the CPU.
import { FlatIndex, HnswIndex, recallAtK, requestGpu } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(3000, 100);
const index = HnswIndex.build(train, { metric: 'l2', m: 12, efConstruction: 100 });
const gpu = await requestGpu(); // null without a WebGPU adapter
console.log('adapter:', gpu ? gpu.description : 'none, searching on the CPU');

const r = await index.searchBatch(test, 10, { ef: 64, backend: gpu ? 'gpu' : 'cpu', gpu });
console.log(`backend ${r.backend}, gpuMode ${r.gpuMode}, round trips ${r.roundTrips}`);
const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, 10); // exact: the true top 10
console.log('recall@10:', recallAtK(r.ids, 10, { rows: test.size, dim: 10, data: exact.ids }));
await index.close();
