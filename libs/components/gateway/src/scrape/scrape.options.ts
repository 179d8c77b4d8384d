export interface ScrapeOptions {
  /** Scrape config file; empty = this process does not scrape. */
  configFile: string;
  replicaId: string;
  /** In-cluster Kubernetes API address (KUBERNETES_SERVICE_HOST/PORT). */
  kubernetesEnv: { host?: string; port?: string };
}

export const SCRAPE_OPTIONS = Symbol('firn.scrape-options');

export const DEFAULT_SCRAPE_OPTIONS: ScrapeOptions = { configFile: '', replicaId: 'local', kubernetesEnv: {} };
