// The ingester's symbolize queue on fleet-1h: the CPU of `SymbolizeQueue.enqueue` per flush, with
// the WriteArrow payloads of 100 agents × 6 windows decoded as the ingester decodes them (frames
// and stacks interned process-wide) and flushed 20 requests at a time (about what the 2 s flush
// age holds at the fleet's rate). Pass 0 meets every stack for the first time; later passes are
// what a running ingester does with stacks it has seen. Publishing goes to an in-memory stub.
//
//   node scripts/run-ts.cjs bench/ingest/symbolize-queue.bench.ts [--passes 4] [--per-flush 20]
import { parseArgs } from 'node:util';
import { SymbolizeQueue } from '@firn/debuginfo';
import { createLogger, Registry } from '@firn/observability';
import { samplesFromArrow } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { READER_LIMITS } from './floor';
import { prepareSlice } from './payloads';

const { values: args } = parseArgs({ options: { passes: { type: 'string', default: '4' }, 'per-flush': { type: 'string', default: '20' } } });
const passes = Number(args.passes);
const perFlush = Number(args['per-flush']);

async function main(): Promise<void> {
  const slice = prepareSlice({ seed: 1, agents: 100, windows: 6 }, { arrow: true, pprof: false });
  const batches = slice.windows.map((w) => samplesFromArrow(w.arrow, READER_LIMITS));
  const bus = { ensureStream: async () => undefined, publish: async () => ({ stream: 'FIRN_SYMBOLIZE', seq: 1, duplicate: false }) };
  const queue = new SymbolizeQueue(bus, createLogger({ level: 'silent', component: 'bench' }), new Registry());
  const tenant = tenantFromTrustedSource('bench');
  for (let pass = 0; pass < passes; pass++) {
    const c0 = process.cpuUsage();
    let flushes = 0;
    for (let i = 0; i < batches.length; i += perFlush, flushes++) await queue.enqueue(tenant, batches.slice(i, i + perFlush));
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    console.log(`pass ${pass}: ${ms.toFixed(0)} ms CPU for ${flushes} flushes of ${perFlush} requests (${(ms / flushes).toFixed(2)} ms per flush)`);
  }
}

void main();
