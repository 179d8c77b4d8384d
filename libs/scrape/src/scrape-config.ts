import { parse as parseYaml } from 'yaml';
import { parseDuration } from '@firn/config';
import { FirnError } from '@firn/errors';
import { relabelConfigsFrom, type RelabelConfig } from '@firn/profiles';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';

/** The Go pprof endpoints a scrape config can collect, named as Parca and Pyroscope name them. */
export const PROFILE_NAMES = ['process_cpu', 'memory', 'goroutine', 'block', 'mutex'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface ProfileEndpoint {
  name: ProfileName;
  path: string;
  /**
   * process_cpu: ask for a CPU profile over the scrape interval (`?seconds=`) — already a delta.
   * Other profiles are cumulative since the process started; the scraper stores the difference
   * between consecutive scrapes for their cumulative sample types (alloc_*, contentions, delay).
   */
  seconds: boolean;
}

export interface StaticConfig {
  targets: string[];
  labels: Record<string, string>;
}

export interface FileSdConfig {
  files: string[];
  refreshMs: number;
}

export interface KubernetesSdConfig {
  role: 'pod';
  /** Empty: all namespaces the service account may list. */
  namespaces: string[];
  /** API server URL; empty = in-cluster (KUBERNETES_SERVICE_HOST/PORT, service-account token and CA). */
  apiServer: string;
  bearerTokenFile: string;
  caFile: string;
  /** Skip TLS verification (tests and kind clusters only). */
  insecureSkipVerify: boolean;
  /** Kubernetes label selector for the pod list (`app=web,tier!=db`). */
  labelSelector: string;
  refreshMs: number;
}

export interface ScrapeConfig {
  jobName: string;
  /** The tenant the scraped profiles are stored under (set by the operator who owns this file). */
  tenant: TenantId;
  intervalMs: number;
  timeoutMs: number;
  scheme: 'http' | 'https';
  pathPrefix: string;
  profiles: ProfileEndpoint[];
  staticConfigs: StaticConfig[];
  fileSdConfigs: FileSdConfig[];
  kubernetesSdConfigs: KubernetesSdConfig[];
  relabelConfigs: RelabelConfig[];
}

const DEFAULT_PATHS: Record<ProfileName, string> = {
  process_cpu: '/debug/pprof/profile',
  memory: '/debug/pprof/allocs',
  goroutine: '/debug/pprof/goroutine',
  block: '/debug/pprof/block',
  mutex: '/debug/pprof/mutex',
};

type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw FirnError.invalidArgument(`scrape config: ${where}: ${msg}`);
}

function obj(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Obj;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(where, 'must be a list');
  return v;
}

function str(v: unknown, where: string, dflt?: string): string {
  if (v === undefined || v === null) {
    if (dflt === undefined) fail(where, 'is required');
    return dflt;
  }
  if (typeof v !== 'string' && typeof v !== 'number') fail(where, 'must be a string');
  return String(v);
}

function known(o: Obj, where: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(where, `unknown field "${k}" (known: ${keys.join(', ')})`);
}

function duration(v: unknown, where: string, dflt: string): number {
  try {
    return parseDuration(str(v, where, dflt));
  } catch (err) {
    fail(where, (err as Error).message);
  }
}

function stringMap(v: unknown, where: string): Record<string, string> {
  const o = obj(v, where);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, str(x, `${where}.${k}`)]));
}

/**
 * Parses a scrape file in Parca's `scrape_configs` format (the subset Firn runs), plus one Firn
 * field per job: `tenant`. Unknown fields are refused so a typo never silently scrapes nothing.
 */
export function parseScrapeConfig(yamlText: string): ScrapeConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (err) {
    throw FirnError.invalidArgument(`scrape config is not valid YAML: ${(err as Error).message}`);
  }
  const root = obj(doc, 'file');
  known(root, 'file', ['scrape_configs']);
  const jobs = list(root['scrape_configs'], 'scrape_configs').map((raw, i) => parseJob(obj(raw, `scrape_configs[${i}]`), `scrape_configs[${i}]`));
  const names = new Set<string>();
  for (const j of jobs) {
    if (names.has(j.jobName)) fail('scrape_configs', `job_name "${j.jobName}" appears twice`);
    names.add(j.jobName);
  }
  return jobs;
}

function parseJob(o: Obj, where: string): ScrapeConfig {
  known(o, where, [
    'job_name',
    'tenant',
    'scrape_interval',
    'scrape_timeout',
    'scheme',
    'profiling_config',
    'static_configs',
    'file_sd_configs',
    'kubernetes_sd_configs',
    'relabel_configs',
  ]);
  const jobName = str(o['job_name'], `${where}.job_name`);
  if (!/^[a-zA-Z0-9_.:-]{1,128}$/.test(jobName)) fail(`${where}.job_name`, `"${jobName}" must be 1-128 letters, digits or _.:-`);
  let tenant: TenantId;
  try {
    tenant = tenantFromTrustedSource(str(o['tenant'], `${where}.tenant`));
  } catch (err) {
    fail(`${where}.tenant`, (err as Error).message);
  }
  const intervalMs = duration(o['scrape_interval'], `${where}.scrape_interval`, '10s');
  if (intervalMs < 2000) fail(`${where}.scrape_interval`, 'must be at least 2s');
  const timeoutMs = duration(o['scrape_timeout'], `${where}.scrape_timeout`, '10s');
  const scheme = str(o['scheme'], `${where}.scheme`, 'http');
  if (scheme !== 'http' && scheme !== 'https') fail(`${where}.scheme`, 'must be http or https');
  const pc = obj(o['profiling_config'], `${where}.profiling_config`);
  known(pc, `${where}.profiling_config`, ['pprof_config', 'path_prefix']);
  const pprof = obj(pc['pprof_config'], `${where}.profiling_config.pprof_config`);
  const profiles: ProfileEndpoint[] = [];
  for (const k of Object.keys(pprof))
    if (!(PROFILE_NAMES as readonly string[]).includes(k))
      fail(`${where}.profiling_config.pprof_config`, `unknown profile "${k}" (known: ${PROFILE_NAMES.join(', ')})`);
  for (const name of PROFILE_NAMES) {
    const p = obj(pprof[name], `${where}.profiling_config.pprof_config.${name}`);
    known(p, `${where}.profiling_config.pprof_config.${name}`, ['enabled', 'path', 'delta']);
    const enabled = p['enabled'] === undefined ? true : p['enabled'] === true;
    if (!enabled) continue;
    const path = str(p['path'], `${where}.profiling_config.pprof_config.${name}.path`, DEFAULT_PATHS[name]);
    if (!path.startsWith('/')) fail(`${where}.profiling_config.pprof_config.${name}.path`, 'must start with /');
    profiles.push({ name, path, seconds: name === 'process_cpu' ? p['delta'] !== false : false });
  }
  const pathPrefix = str(pc['path_prefix'], `${where}.profiling_config.path_prefix`, '').replace(/\/$/, '');
  return {
    jobName,
    tenant,
    intervalMs,
    timeoutMs,
    scheme,
    pathPrefix,
    profiles,
    staticConfigs: list(o['static_configs'], `${where}.static_configs`).map((raw, i) => {
      const w = `${where}.static_configs[${i}]`;
      const s = obj(raw, w);
      known(s, w, ['targets', 'labels']);
      return { targets: list(s['targets'], `${w}.targets`).map((t, j) => str(t, `${w}.targets[${j}]`)), labels: stringMap(s['labels'], `${w}.labels`) };
    }),
    fileSdConfigs: list(o['file_sd_configs'], `${where}.file_sd_configs`).map((raw, i) => {
      const w = `${where}.file_sd_configs[${i}]`;
      const s = obj(raw, w);
      known(s, w, ['files', 'refresh_interval']);
      const files = list(s['files'], `${w}.files`).map((f, j) => str(f, `${w}.files[${j}]`));
      if (files.length === 0) fail(`${w}.files`, 'must list at least one file');
      return { files, refreshMs: duration(s['refresh_interval'], `${w}.refresh_interval`, '5m') };
    }),
    kubernetesSdConfigs: list(o['kubernetes_sd_configs'], `${where}.kubernetes_sd_configs`).map((raw, i) => {
      const w = `${where}.kubernetes_sd_configs[${i}]`;
      const s = obj(raw, w);
      known(s, w, ['role', 'namespaces', 'api_server', 'bearer_token_file', 'tls_config', 'selectors', 'refresh_interval']);
      if (str(s['role'], `${w}.role`) !== 'pod') fail(`${w}.role`, 'only role: pod is supported');
      const ns = obj(s['namespaces'], `${w}.namespaces`);
      known(ns, `${w}.namespaces`, ['names']);
      const tls = obj(s['tls_config'], `${w}.tls_config`);
      known(tls, `${w}.tls_config`, ['ca_file', 'insecure_skip_verify']);
      const selectors = list(s['selectors'], `${w}.selectors`).map((x, j) => {
        const sel = obj(x, `${w}.selectors[${j}]`);
        known(sel, `${w}.selectors[${j}]`, ['role', 'label']);
        return str(sel['label'], `${w}.selectors[${j}].label`, '');
      });
      return {
        role: 'pod' as const,
        namespaces: list(ns['names'], `${w}.namespaces.names`).map((n, j) => str(n, `${w}.namespaces.names[${j}]`)),
        apiServer: str(s['api_server'], `${w}.api_server`, '').replace(/\/$/, ''),
        bearerTokenFile: str(s['bearer_token_file'], `${w}.bearer_token_file`, ''),
        caFile: str(tls['ca_file'], `${w}.tls_config.ca_file`, ''),
        insecureSkipVerify: tls['insecure_skip_verify'] === true,
        labelSelector: selectors.filter(Boolean).join(','),
        refreshMs: duration(s['refresh_interval'], `${w}.refresh_interval`, '30s'),
      };
    }),
    relabelConfigs: relabelConfigsFrom(list(o['relabel_configs'], `${where}.relabel_configs`), `${where}.relabel_configs`),
  };
}
