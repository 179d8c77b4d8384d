import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { pyroscopeSeriesLabels, samplesFromFolded, samplesToArrow, samplesToPprof, type Frame } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { CPU_TYPE, agentWrite, totalsOf } from './profiles-data';
import { bearer } from './write-path';
import { httpAttempt } from './retrying-client';

type Store = Client<typeof profilestoreV1alpha1.ProfileStoreService>;

/**
 * One client request with its bytes fixed once (a retry sends exactly the same), and the totals
 * it must add to its tenant's stored data when it is counted exactly once. Every request has a
 * series of its own, so a request counted twice shows as a doubled entry.
 */
export interface IngestRequestCase {
  what: string;
  tenant: string;
  expected: Map<string, number>;
  /** The payload as sent (the Arrow buffer, the pprof, the folded body). */
  bytes: Uint8Array;
  send(signal: AbortSignal): Promise<void>;
}

export interface Gateway {
  base: string;
  tokens: Record<string, string>;
}

const clients = new Map<string, Store>();

function client(gw: Gateway, tenant: string, transport: 'grpc' | 'connect'): Store {
  const key = `${gw.base}|${tenant}|${transport}`;
  let c = clients.get(key);
  if (!c) {
    const interceptors = [bearer(gw.tokens[tenant])];
    c = createClient(
      profilestoreV1alpha1.ProfileStoreService,
      transport === 'grpc'
        ? createGrpcTransport({ baseUrl: gw.base, interceptors })
        : createConnectTransport({ baseUrl: gw.base, httpVersion: '1.1', interceptors }),
    );
    clients.set(key, c);
  }
  return c;
}

/** WriteArrow over gRPC: an agent's 10 s flush for node `<tenant>-<tag>`. */
export function arrowRequest(
  gw: Gateway,
  tenant: string,
  tag: string,
  seed: number,
  pool: Frame[][],
  baseMs: number,
  headers?: Record<string, string>,
): IngestRequestCase {
  const w = agentWrite({ seed, pool, node: `${tenant}-${tag}`, round: 0, baseMs });
  const ipcBuffer = samplesToArrow(w.batch);
  return {
    what: `WriteArrow ${tag}`,
    tenant,
    expected: w.totals,
    bytes: ipcBuffer,
    send: async (signal) => void (await client(gw, tenant, 'grpc').writeArrow({ ipcBuffer }, { signal, headers })),
  };
}

/** WriteRaw over Connect (HTTP/1.1): the Parca agent's pprof protocol for node `<tenant>-<tag>`. */
export function rawRequest(gw: Gateway, tenant: string, tag: string, seed: number, pool: Frame[][], baseMs: number): IngestRequestCase {
  const w = agentWrite({ seed, pool, node: `${tenant}-${tag}`, round: 0, baseMs });
  const labels = [{ name: '__name__', value: 'parca_agent' }, ...w.batch.series[0].map(([name, value]) => ({ name, value }))];
  const rawProfile = samplesToPprof(w.batch, CPU_TYPE, { includeLabels: false });
  return {
    what: `WriteRaw ${tag}`,
    tenant,
    expected: w.totals,
    bytes: rawProfile,
    send: async (signal) => void (await client(gw, tenant, 'connect').writeRaw({ series: [{ labels: { labels }, samples: [{ rawProfile }] }] }, { signal })),
  };
}

/** Pyroscope `/ingest` folded text with its own time (`from`), app `fault`, label `req=<tag>`. */
export function foldedRequest(gw: Gateway, tenant: string, tag: string, lines: number, fromS: number, headers: Record<string, string> = {}): IngestRequestCase {
  const body = Buffer.from(Array.from({ length: lines }, (_, k) => `main;work;leaf_${tag}_${k} ${k + 1}`).join('\n'));
  const name = `fault.cpu{req=${tag}}`;
  // The series Pyroscope (and so the gateway) names an upload with: req, service_name=fault, pyroscope_spy=unknown.
  const { labels } = pyroscopeSeriesLabels({ name, format: 'folded' });
  const batch = samplesFromFolded(body, { seriesLabels: labels, fromMs: fromS * 1000, untilMs: fromS * 1000 + 10_000, sampleType: 'cpu', sampleRate: 100 });
  const url = `${gw.base}/ingest?name=${encodeURIComponent(name)}&from=${fromS}&until=${fromS + 10}&sampleRate=100`;
  return {
    what: `/ingest ${tag}`,
    tenant,
    expected: totalsOf(batch),
    bytes: body,
    send: (signal) => httpAttempt(url, { method: 'POST', headers: { authorization: `Bearer ${gw.tokens[tenant]}`, ...headers }, body, signal }),
  };
}
