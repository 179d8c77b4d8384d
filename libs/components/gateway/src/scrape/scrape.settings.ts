import { hostname } from 'node:os';
import { z } from 'zod';
import { setting } from '@firn/config';
import type { ScrapeOptions } from './scrape.options';

/** Pull-mode scraping settings (gateway and all-in-one). */
export function scrapeSettings() {
  return {
    scrapeConfigFile: setting({
      env: 'FIRN_SCRAPE_CONFIG_FILE',
      flag: 'scrape-config-file',
      schema: z.string(),
      default: '',
      description: 'YAML file of Parca-style `scrape_configs` (each with a `tenant`): this process scrapes Go pprof endpoints. Empty = no scraping.',
    }),
    kubernetesServiceHost: setting({
      env: 'KUBERNETES_SERVICE_HOST',
      flag: 'kubernetes-service-host',
      schema: z.string(),
      default: '',
      description: 'Kubernetes API host for `kubernetes_sd_configs` without `api_server` (set by Kubernetes in every pod).',
    }),
    kubernetesServicePort: setting({
      env: 'KUBERNETES_SERVICE_PORT',
      flag: 'kubernetes-service-port',
      schema: z.string(),
      default: '443',
      description: 'Kubernetes API port (set by Kubernetes in every pod).',
    }),
    scrapeReplicaId: setting({
      env: 'FIRN_SCRAPE_REPLICA_ID',
      flag: 'scrape-replica-id',
      schema: z.string(),
      default: '',
      description: 'Name of this scraper among the replicas sharing targets (empty = hostname-pid).',
    }),
  };
}

export function scrapeOptionsFrom(c: {
  scrapeConfigFile: string;
  scrapeReplicaId: string;
  kubernetesServiceHost: string;
  kubernetesServicePort: string;
}): ScrapeOptions {
  return {
    configFile: c.scrapeConfigFile,
    replicaId: c.scrapeReplicaId || `${hostname()}-${process.pid}`,
    kubernetesEnv: { host: c.kubernetesServiceHost || undefined, port: c.kubernetesServicePort },
  };
}
