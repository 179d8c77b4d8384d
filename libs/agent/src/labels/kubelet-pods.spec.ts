import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@firn/observability';
import type { ProcessInfo } from '../proc/process-table';
import { parseCgroupPath } from './cgroup';
import { KubeletPodResolver, indexPodList, type PodList } from './kubelet-pods';
import { LabelResolver } from './label-resolver';

const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'kubelet-pods.json'), 'utf8')) as PodList & { items: unknown[] };
const CHECKOUT_UID = '0b0a1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const APP_ID = 'a'.repeat(64);
const ENVOY_ID = 'b'.repeat(64);
const LATE_UID = '22222222-3333-4444-8555-666666666666';
const LATE_ID = 'd'.repeat(64);
const TOKEN = 'sa-token-123';
const log = createLogger({ component: 'test', level: 'error' });

function processIn(cgroupPath: string): ProcessInfo {
  return {
    pid: 42,
    identity: '1:/app',
    exe: '/app',
    cgroup: parseCgroupPath(cgroupPath),
    maps: [],
    mapsFresh: true,
    perfMapChecked: true,
    nsPid: 1,
    frames: new Map(),
  };
}

describe(indexPodList.name, () => {
  it('maps container ids (any runtime scheme, init containers too) and pod UIDs to names', () => {
    const idx = indexPodList(FIXTURE);
    expect(idx.byContainer.get(APP_ID)).toEqual({ namespace: 'shop', pod: 'checkout-7d9f8c6b5-x2x9q', container: 'app' });
    expect(idx.byContainer.get(ENVOY_ID)?.container).toBe('envoy');
    expect(idx.byContainer.get('1'.repeat(64))?.container).toBe('migrate');
    expect(idx.byContainer.get('c'.repeat(64))).toEqual({ namespace: 'monitoring', pod: 'node-exporter-abcde', container: 'node-exporter' });
    expect(idx.byPod.get('11111111-2222-4333-8444-555555555555')).toEqual({ namespace: 'shop', pod: 'pending-pod', container: '' });
    expect(idx.byContainer.size).toBe(4);
  });
});

describe(KubeletPodResolver.name, () => {
  let server: Server;
  let url: string;
  let dir: string;
  let items: unknown[];
  let requests: Array<string | undefined>;
  let status = 200;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firn-kubelet-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    server = createServer((req, res) => {
      requests.push(req.headers.authorization);
      if (req.url !== '/pods') return res.writeHead(404).end();
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end('Unauthorized');
      if (status !== 200) return res.writeHead(status).end('broken');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', items }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pods`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    items = [...FIXTURE.items];
    requests = [];
    status = 200;
  });

  const resolver = (extra: Partial<ConstructorParameters<typeof KubeletPodResolver>[0]> = {}) =>
    new KubeletPodResolver({ url, tokenFile: join(dir, 'token'), refreshMs: 60_000, minRefreshMs: 0, timeoutMs: 5000, logger: log, ...extra });

  it('fetches /pods with the service-account token and resolves containers and pods', async () => {
    const r = resolver();
    await r.start();
    try {
      expect(requests).toEqual([`Bearer ${TOKEN}`]);
      expect(r.lookup(CHECKOUT_UID, APP_ID)).toEqual({ namespace: 'shop', pod: 'checkout-7d9f8c6b5-x2x9q', container: 'app' });
      expect(r.lookup(CHECKOUT_UID, ENVOY_ID)?.container).toBe('envoy');
      expect(r.lookup(CHECKOUT_UID, undefined)).toEqual({ namespace: 'shop', pod: 'checkout-7d9f8c6b5-x2x9q', container: '' });
      expect(r.generation).toBe(1);
    } finally {
      r.stop();
    }
  });

  it('starts without names when the kubelet refuses, and fails refreshes with the HTTP status', async () => {
    const r = resolver({ tokenFile: undefined });
    await r.start();
    try {
      expect(r.generation).toBe(0);
      await expect(r.refresh()).rejects.toThrow(/HTTP 401/);
      status = 500;
      const authed = resolver();
      await expect(authed.refresh()).rejects.toThrow(/HTTP 500/);
    } finally {
      r.stop();
    }
  });

  it('keeps the last list when a refresh fails', async () => {
    const r = resolver();
    await r.refresh();
    status = 503;
    await expect(r.refresh()).rejects.toThrow(/503/);
    expect(r.lookup(CHECKOUT_UID, APP_ID)?.pod).toBe('checkout-7d9f8c6b5-x2x9q');
  });

  it('names a pod that appears after the first list, and labels of its process follow', async () => {
    const r = resolver();
    await r.start();
    try {
      const labels = new LabelResolver({ nodeName: 'node-1', relabelConfigs: [], pods: r });
      const proc = processIn(`/kubepods.slice/kubepods-pod${LATE_UID.replace(/-/g, '_')}.slice/cri-containerd-${LATE_ID}.scope`);
      const before = new Map(labels.labelsFor(42, 'late', proc));
      expect(before.get('pod_uid')).toBe(LATE_UID);
      expect(before.has('pod')).toBe(false);

      items.push({
        metadata: { name: 'late-pod', namespace: 'jobs', uid: LATE_UID },
        status: { containerStatuses: [{ name: 'worker', containerID: `containerd://${LATE_ID}` }] },
      });
      // The miss above asked for an early refresh; wait for it to land.
      for (let i = 0; i < 100 && r.generation < 2; i++) await new Promise((res) => setTimeout(res, 20));
      expect(r.generation).toBeGreaterThanOrEqual(2);

      const after = new Map(labels.labelsFor(42, 'late', proc));
      expect(after.get('namespace')).toBe('jobs');
      expect(after.get('pod')).toBe('late-pod');
      expect(after.get('container')).toBe('worker');
      expect(after.get('container_id')).toBe(LATE_ID);
    } finally {
      r.stop();
    }
  });

  it('rate-limits refreshes caused by misses', async () => {
    const r = resolver({ minRefreshMs: 60_000 });
    await r.start();
    try {
      for (let i = 0; i < 10; i++) expect(r.lookup(LATE_UID, LATE_ID)).toBeUndefined();
      await new Promise((res) => setTimeout(res, 50));
      expect(requests).toHaveLength(1);
    } finally {
      r.stop();
    }
  });
});
