import { lookup } from 'node:dns/promises';
import { ConfigError } from '@firn/config';
import type { Logger } from '@firn/observability';

/**
 * Metadata of calls between Firn processes (gateway → querier, querier → peer querier): the
 * shared internal token and the tenant the caller has already authenticated. A receiver trusts
 * the tenant only together with a valid token.
 */
export const INTERNAL_TOKEN_HEADER = 'x-firn-internal-token';
export const INTERNAL_TENANT_HEADER = 'x-firn-tenant';

/**
 * One entry of an endpoint list: a fixed base URL (`http://querier-1:4102`), or
 * `dns+http://<name>:<port>`, a DNS name whose every address is an endpoint (a Kubernetes
 * headless Service lists the ready pods of a Deployment this way).
 */
export type EndpointSpec = { kind: 'static'; url: string } | { kind: 'dns'; scheme: 'http' | 'https'; host: string; port: number };

const STATIC = /^https?:\/\/[^/\s]+\/?$/;
const DNS = /^dns\+(https?):\/\/([^/\s:]+):(\d+)\/?$/;

/** Parses a comma-separated endpoint list; `key` names the setting in errors. */
export function parseEndpoints(list: string, key: string, env: string): EndpointSpec[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s): EndpointSpec => {
      const dns = DNS.exec(s);
      if (dns) return { kind: 'dns', scheme: dns[1] as 'http' | 'https', host: dns[2], port: Number(dns[3]) };
      if (STATIC.test(s)) return { kind: 'static', url: s.replace(/\/$/, '') };
      throw new ConfigError(key, `${env} must list base URLs like http://querier-1:4102 or dns+http://querier-headless:4102 (got ${JSON.stringify(s)})`);
    });
}

export interface EndpointSetOptions {
  specs: EndpointSpec[];
  /** How often DNS entries are resolved again. */
  refreshMs: number;
  /** This process's own address (e.g. the pod IP): left out of DNS results. */
  self?: string;
  log: Logger;
  /** Resolver, for tests; default: the system's (getaddrinfo, so /etc/hosts and cluster DNS). */
  resolve?: (host: string) => Promise<string[]>;
}

const systemResolve = async (host: string): Promise<string[]> => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * The current base URLs of an endpoint list: static entries as given, DNS entries re-resolved
 * every `refreshMs`. A failed lookup keeps the last good answer (DNS hiccups must not empty the
 * set); `changed` listeners hear of every new set.
 */
export class EndpointSet {
  private urls: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(urls: readonly string[]) => void> = [];
  private readonly lastGood = new Map<string, string[]>();

  constructor(private readonly opts: EndpointSetOptions) {}

  get dynamic(): boolean {
    return this.opts.specs.some((s) => s.kind === 'dns');
  }

  /** Resolves once, then keeps refreshing in the background until close(). */
  async start(): Promise<void> {
    await this.refresh();
    if (this.dynamic) {
      this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs);
      this.timer.unref();
    }
  }

  current(): readonly string[] {
    return this.urls;
  }

  onChange(fn: (urls: readonly string[]) => void): void {
    this.listeners.push(fn);
  }

  async refresh(): Promise<readonly string[]> {
    const resolve = this.opts.resolve ?? systemResolve;
    const next: string[] = [];
    for (const spec of this.opts.specs) {
      if (spec.kind === 'static') {
        next.push(spec.url);
        continue;
      }
      let addrs: string[];
      try {
        addrs = await resolve(spec.host);
        this.lastGood.set(spec.host, addrs);
      } catch (err) {
        addrs = this.lastGood.get(spec.host) ?? [];
        this.opts.log.warn({ err, host: spec.host, kept: addrs.length }, 'endpoint lookup failed; keeping the last answer');
      }
      for (const a of addrs) {
        if (a === this.opts.self) continue;
        next.push(`${spec.scheme}://${a.includes(':') ? `[${a}]` : a}:${spec.port}`);
      }
    }
    const sorted = [...new Set(next)].sort();
    if (sorted.join(',') !== this.urls.join(',')) {
      this.urls = sorted;
      this.opts.log.info({ endpoints: sorted }, 'endpoints changed');
      for (const l of this.listeners) l(sorted);
    }
    return this.urls;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
