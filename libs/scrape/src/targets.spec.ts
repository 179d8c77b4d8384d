import { describe, expect, it } from 'vitest';
import { parseScrapeConfig } from './scrape-config';
import { buildTargets } from './targets';

describe(buildTargets.name, () => {
  it('relabels discovered groups the Prometheus way: keep by annotation, address from pod IP and port, instance default, no __ labels', () => {
    const [job] = parseScrapeConfig(`
scrape_configs:
  - job_name: pods
    tenant: acme
    relabel_configs:
      - { action: keep, source_labels: [__meta_kubernetes_pod_annotation_firn_dev_scrape], regex: "true" }
      - { source_labels: [__meta_kubernetes_namespace], target_label: namespace }
      - { source_labels: [__meta_kubernetes_pod_name], target_label: pod }
      - { source_labels: [__meta_kubernetes_pod_ip], target_label: __address__, replacement: "$1:6060" }
`);
    const { active, dropped } = buildTargets(job, [
      {
        source: 'pod/shop/web-1',
        targets: ['10.0.0.1'],
        labels: {
          __meta_kubernetes_namespace: 'shop',
          __meta_kubernetes_pod_name: 'web-1',
          __meta_kubernetes_pod_ip: '10.0.0.1',
          __meta_kubernetes_pod_annotation_firn_dev_scrape: 'true',
        },
      },
      {
        source: 'pod/shop/db-1',
        targets: ['10.0.0.2'],
        labels: { __meta_kubernetes_namespace: 'shop', __meta_kubernetes_pod_name: 'db-1', __meta_kubernetes_pod_ip: '10.0.0.2' },
      },
    ]);
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ job: 'pods', tenant: 'acme', baseUrl: 'http://10.0.0.1:6060', source: 'pod/shop/web-1' });
    expect(active[0].labels).toEqual([
      ['instance', '10.0.0.1:6060'],
      ['job', 'pods'],
      ['namespace', 'shop'],
      ['pod', 'web-1'],
    ]);
    expect(active[0].id).toMatch(/^[0-9a-f]{32}$/);
    expect(dropped).toEqual([{ job: 'pods', source: 'pod/shop/db-1', discoveredLabels: expect.objectContaining({ __address__: '10.0.0.2' }) }]);
  });

  it('gives the same target the same id on every replica and different targets different ids', () => {
    const [job] = parseScrapeConfig('scrape_configs: [{job_name: s, tenant: t}]');
    const a = buildTargets(job, [{ source: 's', targets: ['h:1', 'h:2', 'h:1'], labels: { env: 'x' } }]).active;
    const b = buildTargets(job, [{ source: 's', targets: ['h:1'], labels: { env: 'x' } }]).active;
    expect(a.map((t) => t.baseUrl)).toEqual(['http://h:1', 'http://h:2']);
    expect(a[0].id).toBe(b[0].id);
    expect(a[0].id).not.toBe(a[1].id);
  });
});
