// ioredis's defineCommand on a slotd cluster, as an app uses it: the script
// is sent with EVALSHA, and again with EVAL when a node answers NOSCRIPT.
// Usage: node ioredis_define_command.js HOST PORT
'use strict';
const assert = require('node:assert/strict');
const Redis = require('ioredis');

const [host, port] = [process.argv[2], Number(process.argv[3])];
const cluster = new Redis.Cluster([{ host, port }]);
cluster.defineCommand('incrCapped', {
  numberOfKeys: 1,
  lua: `local v = redis.call('incr', KEYS[1])
        local cap = tonumber(ARGV[1])
        if v > cap then redis.call('set', KEYS[1], cap) return cap end
        return v`,
});

(async () => {
  // Fifty keys spread over the three masters' slots.
  const keys = Array.from({ length: 50 }, (_, i) => `cap:${i}`);
  await Promise.all(keys.map((k) => cluster.del(k)));
  for (let round = 1; round <= 4; round++) {
    const got = await Promise.all(keys.map((k) => cluster.incrCapped(k, 3)));
    got.forEach((v, i) => assert.equal(v, Math.min(round, 3), `${keys[i]} round ${round}`));
  }
  const masters = cluster.nodes('master');
  assert.equal(masters.length, 3);
  const slots = await masters[0].cluster('SLOTS');
  assert.ok(slots.length >= 3, 'the cluster has three shards');
  // A flushed script cache: ioredis gets NOSCRIPT and resends the body with EVAL.
  await Promise.all(masters.map((m) => m.script('FLUSH')));
  assert.equal(await cluster.incrCapped('cap:0', 10), 4);
  // A script error comes back as the Redis error, not a crash.
  await assert.rejects(cluster.incrCapped('cap:0', 'not-a-number'), /attempt to compare/);
  cluster.disconnect();
  console.log('ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
