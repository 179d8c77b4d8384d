// What the NATS client's per-request error contexts cost a JetStream publisher: two connections to
// one nats-server, one with the client's defaults (an Error and a Timeout error made up front per
// request, for their stack traces) and one with `noAsyncTraces` (what `connectBus` sets), each
// publishing the same 68 KB payloads (a fleet WriteArrow request's size) 8 in flight; rounds
// alternate which connection goes first. Prints the publisher's CPU per round.
//
//   node scripts/run-ts.cjs libs/bus/bench/publish.bench.ts [--rounds 10] [--publishes 2000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer } from '../src/nats-server-process';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, publishes: { type: 'string', default: '2000' } } });
const rounds = Number(values.rounds);
const publishes = Number(values.publishes);

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function publishAll(nc: NatsConnection, n: number, data: Uint8Array): Promise<number> {
  const js = nc.jetstream({ timeout: 5000 });
  const c0 = cpuSeconds();
  const inflight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    inflight.push(js.publish('bench.publish', data, { msgID: `${i}-${Math.random()}` }));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  return cpuSeconds() - c0;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'firn-bench-publish-'));
  const nats = await startNatsServer({ dataDir });
  try {
    const data = new Uint8Array(68_000).map((_, i) => i & 0xff);
    const traced = await connect({ servers: nats.url });
    const untraced = await connect({ servers: nats.url, noAsyncTraces: true });
    const jsm = await traced.jetstreamManager();
    await jsm.streams.add({ name: 'BENCH_PUBLISH', subjects: ['bench.>'] });
    for (const nc of [traced, untraced]) await publishAll(nc, 300, data); // warm-up
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [traced, untraced] : [untraced, traced];
      const cpu = new Map<NatsConnection, number>();
      for (const nc of order) cpu.set(nc, await publishAll(nc, publishes, data));
      console.log(`round ${r}: defaults ${cpu.get(traced)!.toFixed(3)} s, noAsyncTraces ${cpu.get(untraced)!.toFixed(3)} s of CPU per ${publishes} publishes`);
      await jsm.streams.purge('BENCH_PUBLISH');
    }
    await Promise.all([traced.close(), untraced.close()]);
  } finally {
    await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
