// Just enough of a Kubernetes node to run the chart's rendered workloads as local processes, with
// exactly the rendered command, args and environment: a "kubelet" (env from values, Secrets,
// ConfigMaps and the downward API; ConfigMap and emptyDir volumes as directories; readiness from
// the rendered probe; preStop, SIGTERM, grace period), Deployment rollouts (maxSurge 1,
// maxUnavailable 0), "kube-proxy" (a TCP balancer per ClusterIP Service over ready endpoints) and
// cluster DNS (support/cluster-dns.cjs). Each pod gets its own loopback address; what the pods
// share, unlike real pods, is the file system (so mount paths in env are mapped into a per-pod
// directory) and the network namespace (so the rendered bind address 0.0.0.0 becomes the pod's
// address). Those two substitutions, NODE_OPTIONS for the DNS preload and the image's /app
// mapped to a build tree are the only differences from what the chart says.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnServer, type ServerProcess } from '@firn/testing';
import type { AppRoot } from './compiled';

const run = promisify(execFile);

type Json = Record<string, unknown>;
export interface K8sObj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Json;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  command: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  readinessProbe?: {
    httpGet: { path: string; port: string | number };
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
    successThreshold?: number;
  };
  lifecycle?: { preStop?: { exec: { command: string[] } } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{
    name: string;
    configMap?: { name: string; items?: Array<{ key: string; path: string }> };
    secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
    emptyDir?: object;
    persistentVolumeClaim?: object;
  }>;
  terminationGracePeriodSeconds?: number;
}

export interface Pod {
  readonly name: string;
  readonly ip: string;
  readonly deployment: string;
  readonly labels: Record<string, string>;
  readonly proc: ServerProcess;
  readonly port: number;
  ready: boolean;
  terminating: boolean;
  /** Consecutive failed readiness probes. */
  failures: number;
  lastProbe: number;
}

export interface ClusterOptions {
  objects: K8sObj[];
  root: AppRoot;
  /** Secrets the chart expects to exist already (existingSecret values), name → key → value. */
  extraSecrets?: Record<string, Record<string, string>>;
  dir: string;
  namespace: string;
  log: (line: string) => void;
  /** Where each pod's whole log is copied when it is deleted or the cluster stops (kept for debugging); default: under `dir`. */
  logDir?: string;
}

export class FakeCluster {
  readonly pods: Pod[] = [];
  private readonly deletedLogs: Array<{ pod: string; file: string }> = [];
  private readonly proxies = new Map<string, { server: Server; ip: string; port: number; selector: Record<string, string>; next: number }>();
  private readonly secrets = new Map<string, Record<string, string>>();
  private readonly configMaps = new Map<string, Record<string, string>>();
  private readonly dnsFile: string;
  private readonly subnet: string;
  private nextPodIp = 10;
  private nextServiceIp = 200;
  private podSeq = 0;
  private readonly probeTimer: NodeJS.Timeout;

  constructor(private readonly o: ClusterOptions) {
    this.subnet = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
    this.dnsFile = join(o.dir, 'dns.json');
    for (const obj of o.objects) {
      if (obj.kind === 'Secret')
        this.secrets.set(obj.metadata.name, Object.fromEntries(Object.entries(obj.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])));
      if (obj.kind === 'ConfigMap') this.configMaps.set(obj.metadata.name, obj.data ?? {});
    }
    for (const [name, data] of Object.entries(o.extraSecrets ?? {})) this.secrets.set(name, data);
    this.writeDns();
    // Readiness probes, as the kubelet runs them; endpoints follow.
    this.probeTimer = setInterval(() => void this.probeAll(), 500);
    this.probeTimer.unref();
  }

  deployments(): K8sObj[] {
    return this.o.objects.filter((x) => x.kind === 'Deployment');
  }

  /** Starts kube-proxy for every ClusterIP Service and returns name → address. */
  async startServices(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const svc of this.o.objects.filter((x) => x.kind === 'Service')) {
      const spec = svc.spec as { clusterIP?: string; selector: Record<string, string>; ports: Array<{ port: number }> };
      if (spec.clusterIP === 'None') continue;
      const ip = `${this.subnet}.${this.nextServiceIp++}`;
      const port = spec.ports[0].port;
      const entry = { server: createServer((s) => this.forward(svc.metadata.name, s)), ip, port, selector: spec.selector, next: 0 };
      await new Promise<void>((resolve, reject) => entry.server.once('error', reject).listen(port, ip, resolve));
      this.proxies.set(svc.metadata.name, entry);
      out.set(svc.metadata.name, `${ip}:${port}`);
    }
    this.writeDns();
    return out;
  }

  private forward(service: string, client: Socket): void {
    const p = this.proxies.get(service);
    const ready = this.pods.filter((x) => x.ready && !x.terminating && matches(x.labels, p?.selector ?? {}));
    if (!p || ready.length === 0) {
      client.destroy();
      return;
    }
    const pod = ready[p.next++ % ready.length];
    const upstream = createConnection(pod.port, pod.ip);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }

  /** Names → addresses, as cluster DNS would answer (headless: ready pods; else the cluster IP). */
  private writeDns(): void {
    const map: Record<string, string[]> = {};
    for (const svc of this.o.objects.filter((x) => x.kind === 'Service')) {
      const spec = svc.spec as { clusterIP?: string; selector: Record<string, string> };
      const ips =
        spec.clusterIP === 'None'
          ? this.pods.filter((p) => p.ready && !p.terminating && matches(p.labels, spec.selector)).map((p) => p.ip)
          : [this.proxies.get(svc.metadata.name)?.ip].filter((x): x is string => !!x);
      for (const name of [
        svc.metadata.name,
        `${svc.metadata.name}.${this.o.namespace}`,
        `${svc.metadata.name}.${this.o.namespace}.svc`,
        `${svc.metadata.name}.${this.o.namespace}.svc.cluster.local`,
      ])
        map[name] = ips;
    }
    writeFileSync(`${this.dnsFile}.tmp`, JSON.stringify(map));
    // Renamed in place: a lookup never reads a half-written file.
    renameSync(`${this.dnsFile}.tmp`, this.dnsFile);
  }

  private async probeAll(): Promise<void> {
    let changed = false;
    await Promise.all(
      this.pods.map(async (p) => {
        if (p.terminating) return;
        // The rendered probe's timing: every periodSeconds, unready after failureThreshold
        // consecutive failures (each a non-200 or no answer within timeoutSeconds).
        const probe = this.containerOf(p.deployment).readinessProbe;
        const period = (probe?.periodSeconds ?? 10) * 1000;
        if (Date.now() - p.lastProbe < period) return;
        p.lastProbe = Date.now();
        let ok = false;
        try {
          ok =
            (await fetch(`http://${p.ip}:${p.port}${probe?.httpGet.path ?? '/readyz'}`, { signal: AbortSignal.timeout((probe?.timeoutSeconds ?? 1) * 1000) }))
              .status === 200;
        } catch {
          ok = false;
        }
        p.failures = ok ? 0 : p.failures + 1;
        const ready = ok || (p.ready && p.failures < (probe?.failureThreshold ?? 3));
        if (ready !== p.ready) {
          p.ready = ready;
          changed = true;
          this.o.log(`pod ${p.name} ${ready ? 'ready' : 'not ready'}`);
        }
      }),
    );
    if (changed) this.writeDns();
  }

  private containerOf(deployment: string): Container {
    const d = this.deployments().find((x) => x.metadata.name === deployment);
    if (!d) throw new Error(`no Deployment ${deployment}`);
    return (d.spec as { template: { spec: PodSpec } }).template.spec.containers[0];
  }

  private podSpecOf(deployment: string): PodSpec & { labels: Record<string, string> } {
    const d = this.deployments().find((x) => x.metadata.name === deployment) as K8sObj;
    const t = (d.spec as { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } }).template;
    return { ...t.spec, labels: t.metadata.labels };
  }

  /** Starts one pod of a Deployment and waits until its readiness probe passes. */
  async startPod(deployment: string): Promise<Pod> {
    const spec = this.podSpecOf(deployment);
    const c = spec.containers[0];
    const name = `${deployment}-${(this.podSeq++).toString(36).padStart(5, 'x')}`;
    const ip = `${this.subnet}.${this.nextPodIp++}`;
    const podDir = join(this.o.dir, 'pods', name);
    // Volumes: ConfigMaps and Secrets as files, emptyDirs as directories, all under podDir.
    const mounts = new Map<string, string>();
    for (const m of c.volumeMounts ?? []) {
      const host = join(podDir, m.mountPath);
      mkdirSync(host, { recursive: true });
      mounts.set(m.mountPath, host);
      const vol = spec.volumes?.find((v) => v.name === m.name);
      const source = vol?.configMap ? this.configMaps.get(vol.configMap.name) : vol?.secret ? this.secrets.get(vol.secret.secretName) : undefined;
      const items = vol?.configMap?.items ?? vol?.secret?.items;
      if (source && items) for (const it of items) writeFileSync(join(host, it.path), source[it.key] ?? '');
    }
    const env: Record<string, string> = {};
    const expand = (s: string): string => s.replace(/\$\((\w+)\)/g, (whole, v: string) => env[v] ?? whole);
    const mapPath = (v: string): string => {
      for (const [mp, host] of mounts) if (v === mp || v.startsWith(`${mp}/`)) return host + v.slice(mp.length);
      return v;
    };
    for (const e of c.env ?? []) {
      let v: string;
      if (e.value !== undefined) v = expand(e.value);
      else if (e.valueFrom?.secretKeyRef)
        v =
          this.secrets.get(e.valueFrom.secretKeyRef.name)?.[e.valueFrom.secretKeyRef.key] ??
          missing(`Secret ${e.valueFrom.secretKeyRef.name} key ${e.valueFrom.secretKeyRef.key}`);
      else if (e.valueFrom?.configMapKeyRef)
        v =
          this.configMaps.get(e.valueFrom.configMapKeyRef.name)?.[e.valueFrom.configMapKeyRef.key] ?? missing(`ConfigMap ${e.valueFrom.configMapKeyRef.name}`);
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') v = name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') v = ip;
      else throw new Error(`${deployment}: env ${e.name} has a source this harness does not know`);
      env[e.name] = mapPath(v);
    }
    // One network namespace for all "pods": bind the pod's own address instead of 0.0.0.0.
    if (env.FIRN_HOST === '0.0.0.0') env.FIRN_HOST = ip;
    const port = c.ports?.[0]?.containerPort ?? Number(env.FIRN_PORT);
    const argv = [...c.command, ...(c.args ?? [])];
    const proc = await spawnServer({
      name: `pod-${name}`,
      command: argv[0],
      args: argv.slice(1),
      cwd: this.o.root.dir,
      env: { ...env, NODE_OPTIONS: `--require ${join(__dirname, 'cluster-dns.cjs')}`, FIRN_E2E_DNS_FILE: this.dnsFile, TINI_SUBREAPER: '1' },
      ready: async () => (await fetch(`http://${ip}:${port}${c.readinessProbe?.httpGet.path ?? '/readyz'}`)).status === 200,
      readyTimeoutMs: 300_000,
      stopTimeoutMs: (spec.terminationGracePeriodSeconds ?? 30) * 1000,
    });
    const pod: Pod = { name, ip, deployment, labels: spec.labels, proc, port, ready: true, terminating: false, failures: 0, lastProbe: Date.now() };
    this.pods.push(pod);
    this.writeDns();
    this.o.log(`pod ${name} ready on ${ip}:${port}`);
    return pod;
  }

  /** As the kubelet deletes a pod: out of endpoints, preStop, SIGTERM, kill after the grace period. */
  async deletePod(pod: Pod): Promise<{ code: number | null; log: string }> {
    pod.terminating = true;
    pod.ready = false;
    this.writeDns();
    const c = this.containerOf(pod.deployment);
    const pre = c.lifecycle?.preStop?.exec.command;
    if (pre) await run(pre[0] === 'node' ? process.execPath : pre[0], pre.slice(1), { cwd: this.o.root.dir, timeout: 60_000 });
    process.kill(pod.proc.pid, 'SIGTERM');
    const grace = (this.podSpecOf(pod.deployment).terminationGracePeriodSeconds ?? 30) * 1000;
    const exit = await Promise.race([pod.proc.exited, new Promise<null>((r) => setTimeout(() => r(null), grace))]);
    const log = pod.proc.logTail(32 * 1024);
    // The pod's temp dir goes with it; errorLines() still reads the kept copy.
    const kept = this.keepLog(pod);
    if (kept) this.deletedLogs.push({ pod: pod.name, file: kept });
    if (exit === null) await pod.proc.stop();
    this.pods.splice(this.pods.indexOf(pod), 1);
    this.o.log(`pod ${pod.name} deleted (exit ${exit?.code ?? 'killed'})`);
    return { code: exit?.code ?? null, log };
  }

  /** `kubectl rollout restart`: with maxSurge 1 / maxUnavailable 0, one new pod ready before each old one goes. */
  async rolloutRestart(deployment: string): Promise<Array<{ pod: string; code: number | null }>> {
    const old = this.pods.filter((p) => p.deployment === deployment);
    const exits = [];
    for (const p of old) {
      await this.startPod(deployment);
      const { code } = await this.deletePod(p);
      exits.push({ pod: p.name, code });
    }
    return exits;
  }

  /**
   * Error-level log lines of every pod, deleted ones included, each prefixed with its pod: what a
   * failed assertion prints so that a rare failure in CI (where FIRN_E2E_LOG_DIR is not set) names
   * its cause.
   */
  errorLines(): string[] {
    const out: string[] = [];
    for (const { pod, file } of [...this.deletedLogs, ...this.pods.map((p) => ({ pod: p.name, file: p.proc.logFile }))]) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (/"level":"(error|fatal)"/.test(line)) out.push(`${pod}: ${line.slice(0, 2000)}`);
    }
    return out;
  }

  /** Copies a pod's whole log to `logDir` (default: under the cluster's dir); the copy's path, or undefined if there is no log. */
  private keepLog(pod: Pod): string | undefined {
    const dir = this.o.logDir ?? join(this.o.dir, 'pod-logs');
    mkdirSync(dir, { recursive: true });
    const kept = join(dir, `${pod.name}.log`);
    try {
      copyFileSync(pod.proc.logFile, kept);
      return kept;
    } catch {
      return undefined; // already removed
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.probeTimer);
    for (const p of this.pods) this.keepLog(p);
    await Promise.all(this.pods.map((p) => p.proc.stop()));
    for (const p of this.proxies.values()) p.server.close();
  }
}

function matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function missing(what: string): never {
  throw new Error(`the chart references ${what}, which does not exist`);
}
