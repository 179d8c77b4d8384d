import { describe, expect, it } from 'vitest';
import { DebuginfodClient, type DebuginfodOutcome } from './debuginfod-client';

type Reply = number | 'network' | { status: 200; body: string };

/** A fetch that answers per URL from a script and records every call. */
function scripted(script: Record<string, Reply[]>) {
  const calls: string[] = [];
  const fetchFn = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    const replies = script[url] ?? [404];
    const r = replies.length > 1 ? (replies.shift() as Reply) : replies[0];
    if (r === 'network') throw new TypeError('fetch failed');
    if (typeof r === 'number') return new Response('x', { status: r });
    return new Response(r.body, { status: 200 });
  }) as typeof fetch;
  return { fetchFn, calls };
}

const base = {
  timeoutMs: 1000,
  retries: 2,
  backoffMs: 1,
  concurrency: 2,
  negativeTtlMs: 60_000,
  breakerThreshold: 3,
  breakerCooldownMs: 60_000,
  maxBytes: 1000,
};

describe(DebuginfodClient.name, () => {
  it('tries servers in order, retries 5xx, and returns the first file found', async () => {
    const { fetchFn, calls } = scripted({
      'http://one/buildid/ab/debuginfo': [404],
      'http://two/buildid/ab/debuginfo': [503, { status: 200, body: 'ELF' }],
    });
    const outcomes: DebuginfodOutcome[] = [];
    const c = new DebuginfodClient({ ...base, servers: ['http://one/', 'http://two'], fetch: fetchFn, onRequest: (_s, o) => outcomes.push(o) });
    const r = await c.fetch('ab', 'debuginfo');
    expect(r.status === 'found' && r.data.toString()).toBe('ELF');
    expect(calls).toEqual(['http://one/buildid/ab/debuginfo', 'http://two/buildid/ab/debuginfo', 'http://two/buildid/ab/debuginfo']);
    expect(outcomes).toEqual(['not_found', 'error', 'found']);
  });

  it('shares one request among concurrent callers and caches a miss', async () => {
    const { fetchFn, calls } = scripted({});
    const c = new DebuginfodClient({ ...base, servers: ['http://one'], fetch: fetchFn });
    const rs = await Promise.all([c.fetch('cd', 'debuginfo'), c.fetch('cd', 'debuginfo'), c.fetch('cd', 'debuginfo')]);
    expect(rs.map((r) => r.status)).toEqual(['not_found', 'not_found', 'not_found']);
    expect(await c.fetch('cd', 'debuginfo')).toEqual({ status: 'not_found' });
    expect(calls).toHaveLength(1);
  });

  it('reports unavailable (not a miss) on network errors and opens the breaker', async () => {
    const { fetchFn, calls } = scripted({ 'http://down/buildid/ef/debuginfo': ['network'], 'http://down/buildid/ff/debuginfo': ['network'] });
    const c = new DebuginfodClient({ ...base, servers: ['http://down'], fetch: fetchFn });
    expect((await c.fetch('ef', 'debuginfo')).status).toBe('unavailable');
    expect(calls).toHaveLength(3);
    // Three failures opened the circuit: the next build id costs no request at all.
    expect((await c.fetch('ff', 'debuginfo')).status).toBe('unavailable');
    expect(calls).toHaveLength(3);
  });

  it('refuses bodies over maxBytes', async () => {
    const { fetchFn } = scripted({ 'http://one/buildid/aa/executable': [{ status: 200, body: 'x'.repeat(2000) }] });
    const c = new DebuginfodClient({ ...base, servers: ['http://one'], fetch: fetchFn });
    expect((await c.fetch('aa', 'executable')).status).toBe('not_found');
  });
});
