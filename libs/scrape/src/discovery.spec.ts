import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDiscoverer, KubernetesDiscoverer } from './discovery';

describe(FileDiscoverer.name, () => {
  it('reads JSON and YAML target files and keeps the last good groups when a file breaks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-file-sd-'));
    try {
      const json = join(dir, 'a.json');
      const yaml = join(dir, 'b.yaml');
      await writeFile(json, JSON.stringify([{ targets: ['h1:6060'], labels: { env: 'prod' } }]));
      await writeFile(yaml, '- targets: [h2:6060]\n');
      const d = new FileDiscoverer({ files: [json, yaml], refreshMs: 1000 });
      expect(await d.groups()).toEqual([
        { source: `${json}[0]`, targets: ['h1:6060'], labels: { env: 'prod' } },
        { source: `${yaml}[0]`, targets: ['h2:6060'], labels: {} },
      ]);
      await writeFile(json, '[{"targets": ');
      expect((await d.groups()).map((g) => g.targets[0])).toEqual(['h1:6060', 'h2:6060']);
      expect(d.lastError).toMatch(/a\.json/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Against an HTTP server answering like the Kubernetes API (`GET /api/v1/namespaces/<ns>/pods`
 * returning a v1 PodList): no API server can run on these machines, so the wire format is
 * replayed; the fields used are those of the Kubernetes 1.30 Pod object.
 */
describe(KubernetesDiscoverer.name, () => {
  let server: Server;
  let base: string;
  const seen: Array<{ url: string; auth: string | undefined }> = [];
  const podList = {
    kind: 'PodList',
    apiVersion: 'v1',
    items: [
      {
        metadata: {
          name: 'web-1',
          namespace: 'shop',
          uid: 'u1',
          labels: { app: 'web', 'app.kubernetes.io/version': '1.2' },
          annotations: { 'firn.dev/scrape': 'true' },
        },
        spec: {
          nodeName: 'node-a',
          containers: [
            {
              name: 'web',
              image: 'web:1',
              ports: [
                { containerPort: 6060, name: 'pprof', protocol: 'TCP' },
                { containerPort: 53, protocol: 'UDP' },
              ],
            },
          ],
        },
        status: { phase: 'Running', podIP: '10.1.2.3', hostIP: '192.168.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
      },
      { metadata: { name: 'pending', namespace: 'shop' }, spec: { containers: [{ name: 'x' }] }, status: { phase: 'Pending' } },
      { metadata: { name: 'done', namespace: 'shop' }, spec: { containers: [{ name: 'x' }] }, status: { phase: 'Succeeded', podIP: '10.1.2.4' } },
    ],
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(podList));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('turns running pods into one target per TCP container port with Prometheus pod meta labels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-k8s-sd-'));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'sa-token\n');
    const d = new KubernetesDiscoverer({
      role: 'pod',
      namespaces: ['shop'],
      apiServer: base,
      bearerTokenFile: tokenFile,
      caFile: '',
      insecureSkipVerify: false,
      labelSelector: 'app=web',
      refreshMs: 1000,
    });
    const groups = await d.groups();
    await rm(dir, { recursive: true, force: true });
    expect(seen[0]).toEqual({ url: '/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb', auth: 'Bearer sa-token' });
    expect(groups).toHaveLength(1);
    expect(groups[0].targets).toEqual(['10.1.2.3:6060']);
    expect(groups[0].labels).toMatchObject({
      __meta_kubernetes_namespace: 'shop',
      __meta_kubernetes_pod_name: 'web-1',
      __meta_kubernetes_pod_ip: '10.1.2.3',
      __meta_kubernetes_pod_node_name: 'node-a',
      __meta_kubernetes_pod_ready: 'true',
      __meta_kubernetes_pod_container_name: 'web',
      __meta_kubernetes_pod_container_port_name: 'pprof',
      __meta_kubernetes_pod_container_port_number: '6060',
      __meta_kubernetes_pod_label_app_kubernetes_io_version: '1.2',
      __meta_kubernetes_pod_annotation_firn_dev_scrape: 'true',
    });
  });

  it('keeps the last good list when the API server fails, and says why', async () => {
    const d = new KubernetesDiscoverer({
      role: 'pod',
      namespaces: [],
      apiServer: base,
      bearerTokenFile: '',
      caFile: '',
      insecureSkipVerify: false,
      labelSelector: '',
      refreshMs: 1000,
    });
    expect(await d.groups()).toHaveLength(1);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await d.groups()).toHaveLength(1);
    expect(d.lastError).toMatch(/kubernetes API/);
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
});
