import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { parseScrapeConfig } from './scrape-config';

const YAML = `
scrape_configs:
  - job_name: go-apps
    tenant: acme
    scrape_interval: 15s
    profiling_config:
      pprof_config:
        block: { enabled: false }
        mutex: { enabled: false }
        memory: { path: /custom/allocs }
      path_prefix: /app/
    static_configs:
      - targets: ['127.0.0.1:6060', 'localhost:6061']
        labels: { env: prod }
    file_sd_configs:
      - files: [/etc/firn/targets.json]
        refresh_interval: 1m
    kubernetes_sd_configs:
      - role: pod
        namespaces: { names: [shop] }
        selectors: [{ role: pod, label: "app=web" }]
    relabel_configs:
      - { action: keep, source_labels: [__meta_kubernetes_pod_annotation_firn_dev_scrape], regex: "true" }
`;

describe(parseScrapeConfig.name, () => {
  it('reads a Parca-style scrape config with Firn defaults', () => {
    const [job] = parseScrapeConfig(YAML);
    expect(job).toMatchObject({
      jobName: 'go-apps',
      tenant: 'acme',
      intervalMs: 15_000,
      timeoutMs: 10_000,
      scheme: 'http',
      pathPrefix: '/app',
      staticConfigs: [{ targets: ['127.0.0.1:6060', 'localhost:6061'], labels: { env: 'prod' } }],
      fileSdConfigs: [{ files: ['/etc/firn/targets.json'], refreshMs: 60_000 }],
      kubernetesSdConfigs: [{ role: 'pod', namespaces: ['shop'], labelSelector: 'app=web', apiServer: '', refreshMs: 30_000 }],
    });
    expect(job.profiles).toEqual([
      { name: 'process_cpu', path: '/debug/pprof/profile', seconds: true },
      { name: 'memory', path: '/custom/allocs', seconds: false },
      { name: 'goroutine', path: '/debug/pprof/goroutine', seconds: false },
    ]);
    expect(job.relabelConfigs).toHaveLength(1);
  });

  it.each([
    ['scrape_configs: [{job_name: a}]', /tenant: is required/],
    ['scrape_configs: [{job_name: a, tenant: "Bad Tenant"}]', /invalid tenant id/],
    ['scrape_configs: [{job_name: a, tenant: t, scrape_intervall: 5s}]', /unknown field "scrape_intervall"/],
    ['scrape_configs: [{job_name: a, tenant: t, scrape_interval: 1s}]', /at least 2s/],
    ['scrape_configs: [{job_name: a, tenant: t, scrape_interval: soon}]', /not a duration/],
    ['scrape_configs: [{job_name: a, tenant: t, profiling_config: {pprof_config: {fgprof: {}}}}]', /unknown profile "fgprof"/],
    ['scrape_configs: [{job_name: a, tenant: t}, {job_name: a, tenant: u}]', /appears twice/],
    ['scrape_configs: [{job_name: a, tenant: t, kubernetes_sd_configs: [{role: node}]}]', /only role: pod/],
    ['scrape_configs: [{job_name: a, tenant: t, relabel_configs: [{action: explode}]}]', /action must be one of/],
    ['scrape_configs: {', /not valid YAML/],
  ])('refuses %s naming the problem', (text, message) => {
    let err: unknown;
    try {
      parseScrapeConfig(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FirnError);
    expect((err as Error).message).toMatch(message);
  });
});
