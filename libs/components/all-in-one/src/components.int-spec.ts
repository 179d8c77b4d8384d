import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactorServer } from '@firn/compactor';
import { gatewayServer } from '@firn/gateway';
import { ingesterServer } from '@firn/ingester';
import { profilestoreV1alpha1 } from '@firn/proto';
import { querierServer } from '@firn/querier';
import { symbolizerServer } from '@firn/symbolizer';
import { clusterWrite, eventually, queryMergeTotal, startTestCluster, type ClusterComponent, type TestCluster } from '@firn/test-cluster';
import { makeTempDir, makeTokens, removeDir } from '@firn/testing';

const BASE_MS = Date.UTC(2026, 10, 22, 5, 0, 0);

/**
 * Every server component from its own server spec (not the all-in-one's wiring), each as in its
 * own process but all in this one, over real NATS, S3 and Redis: they become ready, and a write
 * through the gateway is read back through the querier.
 */
describe('every component in one in-process cluster', () => {
  let cluster: TestCluster;
  let dir: string;
  let token: string;
  const c: Record<string, ClusterComponent> = {};

  beforeAll(async () => {
    cluster = await startTestCluster({ redis: true });
    dir = makeTempDir('components');
    token = (await makeTokens(join(dir, 'tokens.json'), ['acme'])).acme;
    const tokens = { FIRN_TOKENS_FILE: join(dir, 'tokens.json') };
    const started = await Promise.all([
      cluster.start(gatewayServer, { env: tokens }),
      cluster.start(ingesterServer, { env: { FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200' } }),
      cluster.start(querierServer, { env: tokens }),
      cluster.start(compactorServer),
      cluster.start(symbolizerServer),
    ]);
    for (const s of started) c[s.server.ctx.component] = s;
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir) removeDir(dir);
  });

  it('starts every component ready on its own port', async () => {
    expect(Object.keys(c).sort()).toEqual(['compactor', 'gateway', 'ingester', 'querier', 'symbolizer']);
    for (const s of Object.values(c)) expect((await fetch(`${s.url}/readyz`)).status, s.name).toBe(200);
  });

  it('reads back through the querier what was written through the gateway', async () => {
    const w = clusterWrite(7, BASE_MS);
    const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: c.gateway.url }));
    await client.writeArrow({ ipcBuffer: w.payload }, { headers: { authorization: `Bearer ${token}` } });
    const read = () => queryMergeTotal(c.querier.url, token, BASE_MS - 60_000, BASE_MS + 60_000);
    expect(await eventually(read, (t) => t === w.total)).toBe(w.total);
  });
});
