import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import type { PodRef, PodResolver } from './label-resolver';

export interface KubeletPodResolverOptions {
  /** The kubelet's pod list: `https://<node>:10250/pods` (authenticated) or `http://<node>:10255/pods` (read-only port). */
  url: string;
  /** Service-account token sent as a bearer token; re-read on every refresh (tokens are rotated). */
  tokenFile?: string;
  /** CA bundle that signed the kubelet's serving certificate. */
  caFile?: string;
  /** Kubelet serving certificates are often self-signed; operators may opt out of verifying them. */
  insecureSkipVerify?: boolean;
  /** How often the pod list is fetched. */
  refreshMs: number;
  /** A lookup miss triggers an early refresh, at most this often (new pods show up quickly). */
  minRefreshMs?: number;
  timeoutMs: number;
  logger: Logger;
}

/** The part of a Kubernetes PodList the agent reads. */
export interface PodList {
  items?: Array<{
    metadata?: { uid?: string; name?: string; namespace?: string };
    status?: Record<'containerStatuses' | 'initContainerStatuses' | 'ephemeralContainerStatuses', Array<{ name?: string; containerID?: string }> | undefined>;
  }>;
}

export interface PodIndex {
  byContainer: Map<string, PodRef>;
  byPod: Map<string, PodRef>;
}

const MAX_BODY = 64 << 20;

/** Indexes a PodList by container id (without the `containerd://` scheme) and by pod UID. */
export function indexPodList(list: PodList): PodIndex {
  const byContainer = new Map<string, PodRef>();
  const byPod = new Map<string, PodRef>();
  for (const item of list.items ?? []) {
    const uid = item.metadata?.uid;
    const pod = item.metadata?.name ?? '';
    const namespace = item.metadata?.namespace ?? '';
    if (!uid || !pod) continue;
    byPod.set(uid, { namespace, pod, container: '' });
    const st = item.status;
    for (const c of [...(st?.containerStatuses ?? []), ...(st?.initContainerStatuses ?? []), ...(st?.ephemeralContainerStatuses ?? [])]) {
      const id = c.containerID?.replace(/^[a-z-]+:\/\//, '');
      if (id && c.name) byContainer.set(id, { namespace, pod, container: c.name });
    }
  }
  return { byContainer, byPod };
}

/**
 * Pod names from the kubelet of this node (`GET /pods`), refreshed every `refreshMs` and early
 * (rate-limited) when a process belongs to a pod or container the last list did not have, so a
 * pod started after the refresh gets its names within seconds. Lookups never block: until the
 * list arrives they miss, and the label resolver asks again in the next window.
 */
export class KubeletPodResolver implements PodResolver {
  private index: PodIndex = { byContainer: new Map(), byPod: new Map() };
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lastRefreshMs = 0;
  private stopped = false;
  /** Number of pod lists loaded (a new list may resolve processes that missed before). */
  generation = 0;

  constructor(private readonly opts: KubeletPodResolverOptions) {}

  /** First fetch (a failure is logged, not thrown: pod names are optional), then periodic refreshes. */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) =>
      this.opts.logger.warn({ err: String(err), url: this.opts.url }, 'kubelet pod list unavailable; labels keep pod_uid/container_id only'),
    );
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  lookup(podUid: string, containerId: string | undefined): PodRef | undefined {
    const ref = (containerId && this.index.byContainer.get(containerId)) || this.index.byPod.get(podUid);
    if (!ref || (containerId && !ref.container)) this.refreshSoon();
    return ref;
  }

  /** Fetches and swaps in a new pod list; concurrent callers share one request. */
  refresh(): Promise<void> {
    this.inFlight ??= this.fetchPods()
      .then((list) => {
        this.index = indexPodList(list);
        this.generation++;
      })
      .finally(() => {
        this.lastRefreshMs = Date.now();
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private refreshSoon(): void {
    if (this.stopped || this.inFlight || Date.now() - this.lastRefreshMs < (this.opts.minRefreshMs ?? 5000)) return;
    void this.refresh().catch((err: unknown) => this.opts.logger.debug({ err: String(err) }, 'kubelet pod list refresh failed'));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.opts.logger.warn({ err: String(err) }, 'kubelet pod list refresh failed; keeping the last list'))
        .finally(() => this.schedule());
    }, this.opts.refreshMs);
    this.timer.unref();
  }

  private async fetchPods(): Promise<PodList> {
    const url = new URL(this.opts.url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.tokenFile) {
      const token = (await readFile(this.opts.tokenFile, 'utf8')).trim();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    const tls = url.protocol === 'https:';
    const ca = tls && this.opts.caFile ? await readFile(this.opts.caFile) : undefined;
    const body = await new Promise<string>((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(FirnError.unavailable(`kubelet pod list larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(FirnError.unavailable(`kubelet ${url.pathname} answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          else resolve(text);
        });
        res.on('error', reject);
      };
      const req = tls
        ? httpsRequest(url, { headers, ca, rejectUnauthorized: !this.opts.insecureSkipVerify, timeout: this.opts.timeoutMs }, onResponse)
        : httpRequest(url, { headers, timeout: this.opts.timeoutMs }, onResponse);
      req.on('timeout', () => req.destroy(FirnError.unavailable(`kubelet ${url.host} did not answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
    try {
      return JSON.parse(body) as PodList;
    } catch {
      throw FirnError.unavailable(`kubelet ${url.pathname} did not return JSON`);
    }
  }
}
