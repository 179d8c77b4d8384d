// Validates rendered Kubernetes objects against the Kubernetes 1.30 API types, like kubeconform
// in strict mode: kubernetes-types@1.30.0 is generated from the 1.30 OpenAPI spec, and the
// TypeScript checker applied to each object as a literal reports unknown fields (at any depth),
// missing required fields and wrong types. Kinds outside the core API (Prometheus Operator
// monitors) are checked against the fields this chart may set.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

/** apiVersion/kind → [module, type]. */
const TYPES: Record<string, [string, string]> = {
  'v1/ConfigMap': ['core/v1', 'ConfigMap'],
  'v1/PersistentVolumeClaim': ['core/v1', 'PersistentVolumeClaim'],
  'v1/Secret': ['core/v1', 'Secret'],
  'v1/Service': ['core/v1', 'Service'],
  'v1/ServiceAccount': ['core/v1', 'ServiceAccount'],
  'apps/v1/DaemonSet': ['apps/v1', 'DaemonSet'],
  'apps/v1/Deployment': ['apps/v1', 'Deployment'],
  'apps/v1/StatefulSet': ['apps/v1', 'StatefulSet'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  'networking.k8s.io/v1/Ingress': ['networking/v1', 'Ingress'],
  'networking.k8s.io/v1/NetworkPolicy': ['networking/v1', 'NetworkPolicy'],
  'policy/v1/PodDisruptionBudget': ['policy/v1', 'PodDisruptionBudget'],
  'rbac.authorization.k8s.io/v1/ClusterRole': ['rbac/v1', 'ClusterRole'],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ['rbac/v1', 'ClusterRoleBinding'],
  'rbac.authorization.k8s.io/v1/Role': ['rbac/v1', 'Role'],
  'rbac.authorization.k8s.io/v1/RoleBinding': ['rbac/v1', 'RoleBinding'],
  'monitoring.coreos.com/v1/ServiceMonitor': ['', 'ServiceMonitor'],
  'monitoring.coreos.com/v1/PodMonitor': ['', 'PodMonitor'],
};

/** The Prometheus Operator fields the chart uses (a strict subset of its CRDs). */
const CRDS = `
import type { ObjectMeta, LabelSelector } from 'kubernetes-types/meta/v1';
interface Endpoint { port?: string; path?: string; interval?: string; scrapeTimeout?: string; scheme?: string }
interface NamespaceSelector { matchNames?: string[]; any?: boolean }
export interface ServiceMonitor { apiVersion: 'monitoring.coreos.com/v1'; kind: 'ServiceMonitor'; metadata: ObjectMeta; spec: { selector: LabelSelector; namespaceSelector?: NamespaceSelector; endpoints: Endpoint[] } }
export interface PodMonitor { apiVersion: 'monitoring.coreos.com/v1'; kind: 'PodMonitor'; metadata: ObjectMeta; spec: { selector: LabelSelector; namespaceSelector?: NamespaceSelector; podMetricsEndpoints: Endpoint[] } }
`;

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  [k: string]: unknown;
}

export interface Problem {
  /** `<source>: <Kind>/<name>` */
  object: string;
  message: string;
}

const typesDir = dirname(createRequire(__filename).resolve('kubernetes-types/package.json'));

/** Problems of every object (empty = all valid). `docs`: [source label, object]. */
export function validateK8s(docs: Array<[string, K8sObject]>): Problem[] {
  const problems: Problem[] = [];
  const modules = new Map([...new Set(Object.values(TYPES).map(([m]) => m).filter(Boolean))].map((m, i) => [m, `m${i}`]));
  const lines: string[] = [`import type * as crd from './crds';`, ...[...modules].map(([m, ns]) => `import type * as ${ns} from 'kubernetes-types/${m}';`)];
  const owners: Array<{ line: number; object: string }> = [];
  docs.forEach(([source, obj], i) => {
    const id = `${source}: ${obj.kind ?? '?'}/${obj.metadata?.name ?? '?'}`;
    const t = TYPES[`${obj.apiVersion}/${obj.kind}`];
    if (!t) {
      problems.push({ object: id, message: `no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}` });
      return;
    }
    owners.push({ line: lines.length, object: id });
    const body = JSON.stringify(obj, null, 1);
    lines.push(...`export const o${i}: ${t[0] ? modules.get(t[0]) : 'crd'}.${t[1]} = ${body};`.split('\n'));
  });
  const file = '/virtual/objects.ts';
  const text = lines.join('\n');
  const files = new Map<string, string>([[file, text], ['/virtual/crds.ts', CRDS]]);
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [], skipLibCheck: true, lib: ['lib.es2022.d.ts'] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => files.get(f) ?? read(f);
  host.fileExists = (f) => files.has(f) || exists(f);
  host.getSourceFile = ((orig) => (f, lang, onError, create) => {
    const own = files.get(f);
    return own !== undefined ? ts.createSourceFile(f, own, lang) : orig(f, lang, onError, create);
  })(host.getSourceFile.bind(host));
  host.resolveModuleNames = (names, containing) =>
    names.map((n) => {
      if (n === './crds') return { resolvedFileName: '/virtual/crds.ts', extension: ts.Extension.Ts };
      if (n.startsWith('kubernetes-types/')) return { resolvedFileName: join(typesDir, `${n.slice('kubernetes-types/'.length)}.d.ts`), extension: ts.Extension.Dts, isExternalLibraryImport: true };
      return ts.resolveModuleName(n, containing, options, host).resolvedModule;
    });
  const program = ts.createProgram([file], options, host);
  const diags = [...program.getSemanticDiagnostics(), ...program.getSyntacticDiagnostics()];
  for (const d of diags) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) {
      problems.push({ object: d.file?.fileName ?? '(global)', message });
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const owner = [...owners].reverse().find((o) => o.line <= line);
    problems.push({ object: owner?.object ?? '?', message: `${message} (at: ${text.split('\n')[line]?.trim().slice(0, 120)})` });
  }
  return problems;
}
