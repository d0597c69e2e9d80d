// What a batch on the GPU reports: where it ran, how, and the host-device traffic it caused.
import { HnswIndex, requestGpu } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test: queries } = loadMnist(1000, 20);
const index = HnswIndex.build(train, { metric: 'l2', m: 12, efConstruction: 64 });

const gpu = await requestGpu(); // null without a WebGPU adapter
const r = await index.searchBatch(queries, 10, { ef: 100, backend: gpu ? 'gpu' : 'cpu' });
r.backend; // 'gpu', 'cpu', or 'gpu+cpu' if the GPU failed mid-batch and the CPU finished it
r.device; // the adapter's description
r.gpuMode; // 'resident' | 'hybrid' | 'none' ('exact' for FlatIndex on the GPU)
r.roundTrips; // submits the call awaited; r.bytesUp / r.bytesDown: host-device traffic
r.hostMs; // JavaScript time of the call, excluding time awaiting the GPU

console.log(`backend ${r.backend}, device ${r.device ?? 'none'}, gpuMode ${r.gpuMode}`);
console.log(`round trips ${r.roundTrips}, bytes up ${r.bytesUp}, down ${r.bytesDown}, host ${r.hostMs.toFixed(1)} ms`);
await index.close();
