// A sharded service on NATS, searched from Node: `node sharded-client.mjs nats://127.0.0.1:4222`
// (examples/serve-shards.sh runs it against the service it starts).
import { loadMnist } from 'webannolo/node';
import { ShardedClient } from 'webannolo/serve';

const query = loadMnist(1, 1).test.get(0);
const client = await ShardedClient.connect(process.argv[2] ?? 'nats://127.0.0.1:4222', { service: 'mnist', shards: 2 });
const { keys, scores, partial } = await client.search(query, 10, { ef: 64 });
console.log('client:', JSON.stringify({ keys: keys.slice(0, 5), scores: scores.slice(0, 5), partial }));
await client.close();
