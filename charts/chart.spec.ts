// Consistency checks for charts/firn that need no Helm: they read the chart's files as text and
// YAML and compare them with each other and with the apps' config schemas and file parsers. They
// do NOT render templates, so a template that is wrong Go-template or wrong Kubernetes passes
// here; `helm lint --strict` and `helm template` (charts/firn/README.md) are the render checks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { agentConfig, parseRelabelConfigs } from '@firn/agent';
import { allInOneConfig } from '@firn/all-in-one';
import { compactorConfig } from '@firn/compactor';
import type { ConfigDefinition, SettingsDef } from '@firn/config';
import { gatewayConfig } from '@firn/gateway';
import { ingesterConfig } from '@firn/ingester';
import { parseLegacyRetentionFile, parseLimitsFile } from '@firn/limits';
import { querierConfig } from '@firn/querier';
import { symbolizerConfig } from '@firn/symbolizer';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const ROOT = resolve(__dirname, '..');
const CHART = join(ROOT, 'charts', 'firn');
const TEMPLATES = join(CHART, 'templates');

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readYaml(path: string): Json {
  // uniqueKeys: a key written twice is a mistake Helm would silently resolve.
  return parse(readFileSync(path, 'utf8'), { uniqueKeys: true }) as Json;
}

function readObject(path: string): JsonObject {
  const doc = readYaml(path);
  if (!isObject(doc)) throw new Error(`${path} is not a YAML mapping`);
  return doc;
}

/** Every leaf path; an empty map or list counts as a leaf (it is a value users set). */
function leafPaths(v: Json, prefix: string[] = []): string[][] {
  if (isObject(v) && Object.keys(v).length > 0) {
    return Object.entries(v).flatMap(([k, child]) => leafPaths(child, [...prefix, k]));
  }
  return [prefix];
}

function hasPath(v: Json, path: readonly string[]): boolean {
  let node: Json | undefined = v;
  for (const key of path) {
    if (!isObject(node) || !(key in node)) return false;
    node = node[key];
  }
  return true;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Template text without {{/* comments *\/}}, which may mention value paths in prose. */
function templateSource(file: string): string {
  return readFileSync(join(TEMPLATES, file), 'utf8').replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
}

const values = readObject(join(CHART, 'values.yaml'));
const templateFiles = readdirSync(TEMPLATES).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f));
const ciFiles = existsSync(join(CHART, 'ci')) ? readdirSync(join(CHART, 'ci')).filter((f) => /\.ya?ml$/.test(f)) : [];

/** A component is a values section that has `enabled` and `port`: one server process. */
const componentKeys = Object.keys(values).filter((k) => {
  const v = values[k];
  return isObject(v) && typeof v.enabled === 'boolean' && typeof v.port === 'number';
});
const scaledKeys = componentKeys.filter((k) => k !== 'allInOne');
/** Keys the shared workload template reads from a component section only for scaled components. */
const SCALED_ONLY_KEYS = new Set(['replicas', 'autoscaling']);

/** Each app's config schema, by app directory name. */
const APP_CONFIGS: Record<string, ConfigDefinition<SettingsDef>> = {
  gateway: gatewayConfig,
  ingester: ingesterConfig,
  querier: querierConfig,
  compactor: compactorConfig,
  symbolizer: symbolizerConfig,
  'all-in-one': allInOneConfig,
  agent: agentConfig,
};

type AppSetting = SettingsDef[string];

/** An app's settings by env var name. */
function appSettings(app: string): Map<string, AppSetting> {
  const def = APP_CONFIGS[app];
  if (!def) throw new Error(`no config schema for app ${app}`);
  return new Map(Object.values(def.settings).map((s) => [s.env, s]));
}

/** FIRN_* variables a piece of template sets (`- name: FIRN_X`). */
const firnVars = (src: string): string[] => [...src.matchAll(/name: (FIRN_[A-Z0-9_]+)/g)].map((m) => m[1]);

/** The defines of _env.tpl by name: "firn.env" (every server) and "firn.env.<group>". */
function envDefines(): Map<string, string> {
  const src = templateSource('_env.tpl');
  return new Map([...src.matchAll(/\{\{-? define "([^"]+)" -?\}\}([\s\S]*?)(?=\{\{-? define "|$)/g)].map((m) => [m[1], m[2]]));
}

/** The env groups a component template passes to firn.workload ("env" (list ...)). */
function envGroupsOf(file: string): string[] {
  const m = /"env" \(list((?: "\w+")*)\)/.exec(templateSource(file));
  if (!m) throw new Error(`${file}: no "env" (list ...) argument`);
  return [...m[1].matchAll(/"(\w+)"/g)].map((x) => x[1]);
}

/**
 * `- name: FIRN_X` followed by `value: {{ [join "," ]$alias.path ...}}` where the alias is a
 * `.Values` (or `.root.Values`) path assigned in the same piece: the value path behind the
 * setting. Lines built otherwise (ternary, literals, secretKeyRef) are not listed.
 */
function settingValuePaths(src: string): { env: string; path: string[]; join: boolean }[] {
  const aliases = new Map<string, string[]>();
  for (const m of src.matchAll(/\$(\w+) := (?:\$root|\.root|\$)?\.Values((?:\.\w+)*)\s*-?\}\}/g)) aliases.set(m[1], m[2].split('.').filter(Boolean));
  const out: { env: string; path: string[]; join: boolean }[] = [];
  for (const m of src.matchAll(/- name: (FIRN_[A-Z0-9_]+)\n\s+value: \{\{ (join "," )?\$(\w+)((?:\.\w+)+)/g)) {
    const base = aliases.get(m[3]);
    if (base) out.push({ env: m[1], path: [...base, ...m[4].split('.').filter(Boolean)], join: m[2] !== undefined });
  }
  return out;
}

/** Kubernetes quantity (5Gi, 500M, 1024) in bytes. */
function quantityBytes(q: string): number {
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  const unit: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * unit[m[2] ?? ''];
}

interface ValueRef {
  file: string;
  /** 'root' = a path under .Values; 'component' = a path inside every component section. */
  scope: 'root' | 'component';
  path: string[];
}

/**
 * Value paths the templates read: `.Values.a.b` (also `$.Values`, `$root.Values`), and through
 * variables assigned in the same file: `$v := $root.Values` / `$a := .Values.allInOne` (root
 * aliases) and `$c := index $v .key` (a component section chosen at render time).
 */
function valueRefs(): ValueRef[] {
  const refs: ValueRef[] = [];
  for (const file of templateFiles) {
    const src = templateSource(file);
    const rootAliases = new Map<string, string[]>();
    const componentAliases = new Set<string>();
    for (const m of src.matchAll(/\$(\w+) := (?:\$root|\.root|\$)?\.Values((?:\.\w+)*)\s*-?\}\}/g)) {
      rootAliases.set(m[1], m[2].split('.').filter(Boolean));
    }
    for (const m of src.matchAll(/\$(\w+) := index (\$(\w+)|\$\.Values|\$root\.Values|\.Values) [$.]\w+/g)) {
      if (m[3] === undefined || rootAliases.has(m[3])) componentAliases.add(m[1]);
    }
    for (const m of src.matchAll(/\.Values((?:\.[A-Za-z_]\w*)+)/g)) {
      refs.push({ file, scope: 'root', path: m[1].split('.').filter(Boolean) });
    }
    for (const m of src.matchAll(/\$(\w+)((?:\.[A-Za-z_]\w*)+)/g)) {
      const path = m[2].split('.').filter(Boolean);
      const base = rootAliases.get(m[1]);
      if (base) refs.push({ file, scope: 'root', path: [...base, ...path] });
      else if (componentAliases.has(m[1])) refs.push({ file, scope: 'component', path });
    }
  }
  return refs;
}

interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  definitions?: Record<string, SchemaNode>;
}

const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as SchemaNode;

function deref(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name ? schema.definitions?.[name] : undefined;
  if (!target) throw new Error(`values.schema.json: unresolved $ref ${node.$ref}`);
  return deref(target);
}

function jsonType(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Why the schema would reject `value` at `path`, or undefined: a structural walk, not a validator. */
function schemaProblem(path: readonly string[], value: Json): string | undefined {
  let node = deref(schema);
  for (const key of path) {
    const next = node.properties?.[key];
    if (next) {
      node = deref(next);
      continue;
    }
    if (node.additionalProperties === false) return `${path.join('.')}: not in values.schema.json`;
    return undefined; // a free-form map (resources, annotations, ...)
  }
  if (node.type === undefined) return undefined;
  const allowed = Array.isArray(node.type) ? node.type : [node.type];
  const actual = jsonType(value);
  const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
  return ok ? undefined : `${path.join('.')}: ${actual} but the schema wants ${allowed.join('|')}`;
}

function valueAt(v: Json, path: readonly string[]): Json {
  let node: Json = v;
  for (const key of path) node = (node as JsonObject)[key];
  return node;
}

/** Helm's merge of a -f file over values.yaml: maps merge, everything else replaces. */
function helmMerge(base: Json, over: Json): Json {
  if (!isObject(base) || !isObject(over)) return over;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? helmMerge(base[k], v) : v;
  return out;
}

interface AjvLike {
  validate(schema: object, data: unknown): boolean;
  errors?: unknown[] | null;
}
/** ajv is only a transitive dependency (of eslint); without it the full schema check is skipped. */
function loadAjv(): (new (opts: object) => AjvLike) | undefined {
  try {
    return createRequire(__filename)('ajv') as new (opts: object) => AjvLike;
  } catch {
    return undefined;
  }
}
const Ajv = loadAjv();

describe('charts/firn', () => {
  it('has a v2 Chart.yaml named firn with versions', () => {
    const chart = readObject(join(CHART, 'Chart.yaml'));
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('firn');
    expect(String(chart.version)).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    expect(typeof chart.appVersion).toBe('string');
    expect(chart.dependencies ?? []).toEqual([]);
  });

  it('parses values.yaml and every ci/*.yaml as YAML mappings', () => {
    expect(componentKeys.length).toBeGreaterThan(0);
    for (const f of ciFiles) expect(isObject(readYaml(join(CHART, 'ci', f))), f).toBe(true);
  });

  it('reads only value paths that exist in values.yaml', () => {
    const refs = valueRefs();
    expect(refs.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const ref of refs) {
      if (ref.scope === 'root') {
        if (!hasPath(values, ref.path)) missing.push(`${ref.file}: .Values.${ref.path.join('.')}`);
        continue;
      }
      const sections = SCALED_ONLY_KEYS.has(ref.path[0]) ? scaledKeys : componentKeys;
      for (const key of sections) {
        if (!hasPath(values[key], ref.path)) missing.push(`${ref.file}: .Values.${key}.${ref.path.join('.')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(componentKeys)('has a template for the %s section that runs an existing app on its default port', (key) => {
    const name = kebab(key);
    const file = `${name}.yaml`;
    expect(templateFiles).toContain(file);
    const src = templateSource(file);
    expect(src).toContain(`.Values.${key}.enabled`);
    const call = /include "firn\.workload" \(dict ([^)]*)\)/.exec(src);
    expect(call, `${file} renders through firn.workload`).not.toBeNull();
    const args = call?.[1] ?? '';
    expect(args).toContain(`"key" "${key}"`);
    expect(args).toContain(`"component" "${name}"`);
    // The image's launcher (scripts/build.cjs → dist/server/main.js) runs the app by name.
    const app = /"app" "([^"]+)"/.exec(args)?.[1];
    expect(app).toBe(name);
    const build = createRequire(__filename)(join(ROOT, 'scripts', 'build.cjs')) as { SERVER_ENTRIES: Record<string, string>; SERVER_MAIN: string };
    expect(build.SERVER_ENTRIES[name]).toBe(`apps/${name}/src/main.ts`);
    expect(existsSync(join(ROOT, `apps/${name}/src/main.ts`))).toBe(true);
    expect(templateSource('_workload.tpl')).toContain(`- ${relative(ROOT, build.SERVER_MAIN)}`);
    const section = values[key] as JsonObject;
    expect(String(section.port)).toBe(appSettings(name).get('FIRN_PORT')?.default);
  });

  it('renders no component that values.yaml does not have', () => {
    const keys = templateFiles.flatMap((f) => [...templateSource(f).matchAll(/"key" "(\w+)"/g)].map((m) => m[1]));
    expect(new Set(keys)).toEqual(new Set(componentKeys));
  });

  it('excludes every scaled component in single-node mode and lists them all in NOTES', () => {
    for (const file of ['validate.yaml', 'NOTES.txt']) {
      const lists = [...templateSource(file).matchAll(/list ((?:"\w+" ?)+)/g)]
        .map((m) => [...m[1].matchAll(/"(\w+)"/g)].map((x) => x[1]))
        .filter((l) => l.includes('gateway'));
      expect(lists.length, file).toBeGreaterThan(0);
      for (const l of lists) expect(new Set(l), file).toEqual(new Set(scaledKeys));
    }
  });

  it.each(componentKeys)('gives the %s container only settings its app has', (key) => {
    const name = kebab(key);
    const defines = envDefines();
    const groups = envGroupsOf(`${name}.yaml`);
    for (const g of groups) expect(defines.has(`firn.env.${g}`), `${name}.yaml: env group ${g} is not defined in _env.tpl`).toBe(true);
    const set = [...firnVars(defines.get('firn.env') ?? ''), ...groups.flatMap((g) => firnVars(defines.get(`firn.env.${g}`) ?? ''))];
    expect(set).toContain('FIRN_PORT');
    const known = appSettings(name);
    expect(set.filter((n) => !known.has(n)), `FIRN_* set for ${name} that apps/${name} does not read`).toEqual([]);
  });

  it('sets FIRN_* variables only through _env.tpl (servers) and agent.yaml (agent)', () => {
    const elsewhere = templateFiles.filter((f) => f !== '_env.tpl' && f !== 'agent.yaml').flatMap((f) => firnVars(templateSource(f)).map((v) => `${f}: ${v}`));
    expect(elsewhere).toEqual([]);
    // Every group is used by some component, so none escapes the per-component check.
    const used = new Set(componentKeys.flatMap((k) => envGroupsOf(`${kebab(k)}.yaml`)));
    const groups = [...envDefines().keys()].filter((d) => d.startsWith('firn.env.')).map((d) => d.slice('firn.env.'.length));
    expect(groups.filter((g) => !used.has(g))).toEqual([]);
  });

  it('feeds every setting a value its app accepts (values.yaml and each ci/*.yaml)', () => {
    const docs: [string, Json][] = [['values.yaml', values], ...ciFiles.map((f): [string, Json] => [`ci/${f}`, helmMerge(values, readYaml(join(CHART, 'ci', f)))])];
    const pieces: [string, string, string[]][] = [
      ...[...envDefines()].map(([d, src]): [string, string, string[]] => [d, src, ['gateway', 'ingester', 'querier', 'compactor', 'symbolizer', 'all-in-one']]),
      ['agent.yaml', templateSource('agent.yaml'), ['agent']],
    ];
    const problems: string[] = [];
    let checked = 0;
    for (const [piece, src, apps] of pieces) {
      for (const { env, path, join: joined } of settingValuePaths(src)) {
        const setting = apps.map((a) => appSettings(a).get(env)).find((s) => s !== undefined);
        if (!setting) continue; // the per-component test reports unknown variables
        for (const [name, doc] of docs) {
          const v = valueAt(doc, path);
          const raw = joined && Array.isArray(v) ? v.join(',') : String(v);
          checked++;
          const r = setting.schema.safeParse(raw);
          if (!r.success) problems.push(`${name}: ${path.join('.')}=${JSON.stringify(raw)} (${piece} → ${env}): ${r.error.issues[0]?.message}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(problems).toEqual([]);
  });

  it('defaults the tenancy, limits, retention, compaction, debuginfod, symbolizer and agent settings to the apps\' own defaults', () => {
    const defines = envDefines();
    const pieces: [string, string][] = [
      ...['tokenStore', 'limits', 'retention', 'compaction', 'debuginfod', 'symbolization'].map((g): [string, string] => [`firn.env.${g}`, defines.get(`firn.env.${g}`) ?? '']),
      ['agent.yaml', templateSource('agent.yaml')],
    ];
    const differ: string[] = [];
    let compared = 0;
    for (const [piece, src] of pieces) {
      const app = piece === 'agent.yaml' ? 'agent' : 'all-in-one'; // the all-in-one reads every server setting
      for (const { env, path, join: joined } of settingValuePaths(src)) {
        const setting = appSettings(app).get(env);
        const def = setting?.default;
        const v = valueAt(values, path);
        const raw = joined && Array.isArray(v) ? v.join(',') : String(v);
        compared++;
        // Equal as written, or equal once parsed (a duration in ms in the chart, `10s` in the app).
        const same = raw === def || (setting !== undefined && def !== undefined && JSON.stringify(setting.schema.safeParse(raw).data ?? null) === JSON.stringify(setting.schema.safeParse(def).data ?? undefined));
        // The chart default is the app default, except for what the chart sets on purpose.
        if (def !== undefined && !same && !(env === 'FIRN_TOKEN_STORE' && raw === 'nats')) differ.push(`${path.join('.')}=${raw} but ${env} defaults to ${def}`);
      }
    }
    expect(compared).toBeGreaterThan(20);
    expect(differ).toEqual([]);
  });

  it('renders one overrides file (limits and retention) the apps parse, from values.yaml and each ci/*.yaml', () => {
    const docs: [string, JsonObject][] = [['values.yaml', values], ...ciFiles.map((f): [string, JsonObject] => [`ci/${f}`, helmMerge(values, readYaml(join(CHART, 'ci', f))) as JsonObject])];
    // The shape limits-configmap.yaml writes with toYaml: limits.tenants with retention.tenants
    // folded in as each tenant's `retention` (toString'd).
    const overridesOf = (doc: JsonObject) => {
      const limits = doc.limits as JsonObject;
      const tenants = structuredClone(limits.tenants) as Record<string, JsonObject>;
      for (const [t, r] of Object.entries((doc.retention as JsonObject).tenants as JsonObject)) tenants[t] = { ...tenants[t], retention: String(r) };
      return stringify({ defaults: limits.defaults, tenants });
    };
    for (const [name, doc] of docs) {
      const parsed = parseLimitsFile(overridesOf(doc), name);
      for (const t of Object.keys((doc.retention as JsonObject).tenants as JsonObject)) expect(parsed.tenants.get(t)?.retentionMs, `${name}: ${t}`).toBeTypeOf('number');
    }
    const agentCi = helmMerge(values, readObject(join(CHART, 'ci', 'agent-values.yaml'))) as JsonObject;
    const overrides = parseLimitsFile(overridesOf(agentCi), 'agent-values');
    expect(overrides.tenants.get('acme')).toMatchObject({ retentionMs: 7 * 24 * 3600 * 1000, ingestRateBytes: 4194304 });
    expect(overrides.tenants.get('globex')).toEqual({ retentionMs: 0 });
    // The retention-only file the chart still writes when the overrides file is the user's own.
    expect(parseLegacyRetentionFile(stringify({ tenants: (agentCi.retention as JsonObject).tenants }), 'legacy').tenants.get('acme')).toEqual({ retentionMs: 7 * 24 * 3600 * 1000 });
    // A wrong limit key must fail, or the check above proves nothing.
    expect(() => parseLimitsFile(stringify({ tenants: { acme: { ingest_rate: 1 } } }), 'bad')).toThrow();
    expect(templateSource('limits-configmap.yaml')).toMatch(/dict "defaults" .Values.limits.defaults "tenants" \$tenants/);
    expect(templateSource('limits-configmap.yaml')).toMatch(/set \$o "retention"/);
    expect(templateSource('retention-configmap.yaml')).toMatch(/dict "tenants"/);
  });

  it('keeps the symbolizer cache bound below its emptyDir sizeLimit', () => {
    const s = values.symbolization as JsonObject;
    expect(Number(s.cacheBytes)).toBeLessThan(quantityBytes(String(s.cacheSizeLimit)));
    expect(envGroupsOf('symbolizer.yaml')).toContain('symbolizerCacheDir');
  });

  it('defaults to the NATS token store with a bootstrap admin secret for the gateway', () => {
    const auth = values.auth as JsonObject;
    expect(auth.tokenStore).toBe('nats');
    expect((auth.admin as JsonObject).enabled).toBe(true);
    expect(envGroupsOf('gateway.yaml')).toEqual(expect.arrayContaining(['tokenStore', 'admin', 'limits']));
    expect(envGroupsOf('querier.yaml')).toEqual(expect.arrayContaining(['tokenStore', 'limits', 'retention']));
    expect(envGroupsOf('compactor.yaml')).toEqual(expect.arrayContaining(['limits', 'retention', 'compaction']));
    expect(templateSource('admin-secret.yaml')).toContain('lookup "v1" "Secret"');
  });

  describe('agent DaemonSet', () => {
    const agent = values.agent as JsonObject;
    const src = templateSource('agent.yaml');

    it('is off by default and sets only settings the agent has', () => {
      expect(agent.enabled).toBe(false);
      const set = firnVars(src);
      const known = appSettings('agent');
      expect(set.filter((n) => !known.has(n))).toEqual([]);
      for (const needed of ['FIRN_AGENT_GATEWAY_URL', 'FIRN_AGENT_TOKEN_FILE', 'FIRN_AGENT_NODE_NAME', 'FIRN_AGENT_KUBELET_URL', 'FIRN_AGENT_METRICS_HOST', 'FIRN_AGENT_METRICS_PORT', 'FIRN_AGENT_BPF_CACHE_DIR', 'FIRN_AGENT_RELABEL_CONFIG_FILE', 'FIRN_AGENT_DEBUGINFO_UPLOAD']) {
        expect(set, needed).toContain(needed);
      }
    });

    it('runs the launcher scripts/build-agent.cjs writes', () => {
      const build = createRequire(__filename)(join(ROOT, 'scripts', 'build-agent.cjs')) as { LAUNCHER: string };
      const launcher = relative(ROOT, build.LAUNCHER);
      expect(launcher).toBe('dist/agent/firn-agent');
      expect(src).toContain(`"%s/${launcher}"`);
    });

    it('gets the node name, kubelet URL, host PIDs, BTF and its capabilities', () => {
      expect(src).toMatch(/name: FIRN_AGENT_NODE_NAME\n\s+valueFrom:\n\s+fieldRef:\n\s+fieldPath: spec\.nodeName/);
      expect(src).toMatch(/name: NODE_IP\n\s+valueFrom:\n\s+fieldRef:\n\s+fieldPath: status\.hostIP/);
      // $(NODE_IP) only expands when NODE_IP comes first.
      expect(src.indexOf('name: NODE_IP')).toBeLessThan(src.indexOf('name: FIRN_AGENT_KUBELET_URL'));
      expect(src).toContain('https://$(NODE_IP):%d/pods');
      expect(src).toContain('hostPID: true');
      expect(src).toMatch(/hostPath:\n\s+path: \/sys\/kernel\/btf/);
      expect(agent.capabilities).toEqual(expect.arrayContaining(['BPF', 'PERFMON', 'SYS_PTRACE']));
      expect(agent.privileged).toBe(false);
      expect(src).toMatch(/resources: \["nodes\/proxy"\]\n\s+verbs: \["get"\]/);
      expect(agent.tolerations).toEqual([{ operator: 'Exists' }]);
    });

    it('uses the agent\'s default metrics port and drains within its grace period', () => {
      expect(String(agent.metricsPort)).toBe(appSettings('agent').get('FIRN_AGENT_METRICS_PORT')?.default);
      expect(Number(agent.terminationGracePeriodSeconds) * 1000).toBeGreaterThan(Number(agent.shutdownTimeoutMs));
    });

    it('writes relabel configs the agent parses (values.yaml and each ci/*.yaml)', () => {
      const docs: [string, Json][] = [['values.yaml', values], ...ciFiles.map((f): [string, Json] => [`ci/${f}`, helmMerge(values, readYaml(join(CHART, 'ci', f)))])];
      let nonEmpty = 0;
      for (const [name, doc] of docs) {
        const configs = ((doc as JsonObject).agent as JsonObject).relabelConfigs as Json[];
        // The same shape agent.yaml writes into its ConfigMap.
        const parsed = parseRelabelConfigs(stringify({ relabel_configs: configs }));
        expect(parsed.length, name).toBe(configs.length);
        if (configs.length > 0) nonEmpty++;
      }
      expect(nonEmpty).toBeGreaterThan(0);
      expect(src).toContain('dict "relabel_configs" $a.relabelConfigs');
    });
  });

  it('gives every component a grace period longer than preStop sleep plus shutdown timeout', () => {
    const num = (v: Json | undefined): number => (typeof v === 'number' ? v : 0);
    for (const key of componentKeys) {
      const c = values[key] as JsonObject;
      const shutdownMs = num(c.shutdownTimeoutMs) || num(values.shutdownTimeoutMs);
      const grace = num(c.terminationGracePeriodSeconds) || num(values.terminationGracePeriodSeconds);
      expect(grace * 1000, key).toBeGreaterThan(shutdownMs + num(values.preStopSleepSeconds) * 1000);
    }
  });

  it('lists every value in the values table of charts/firn/README.md', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    // A row documents its path and everything under it (e.g. `podSecurityContext`).
    const rows = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
    const undocumented = leafPaths(values)
      .map((p) => (scaledKeys.includes(p[0]) ? ['<component>', ...p.slice(1)] : p))
      .filter((p) => !p.some((_, i) => rows.has(p.slice(0, i + 1).join('.'))))
      .map((p) => p.join('.'));
    expect(rows.size).toBeGreaterThan(20);
    expect([...new Set(undocumented)]).toEqual([]);
  });

  it('keeps values.schema.json in step with values.yaml and ci/*.yaml', () => {
    const problems: string[] = [];
    const files: [string, JsonObject][] = [['values.yaml', values], ...ciFiles.map((f): [string, JsonObject] => [`ci/${f}`, readObject(join(CHART, 'ci', f))])];
    for (const [name, doc] of files) {
      for (const p of leafPaths(doc)) {
        const problem = schemaProblem(p, valueAt(doc, p));
        if (problem) problems.push(`${name}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.skipIf(!Ajv)('validates values.yaml and each ci/*.yaml merged over it against the schema (ajv)', () => {
    const ajv = new (Ajv as new (opts: object) => AjvLike)({ allErrors: true });
    const docs: [string, Json][] = [['values.yaml', values], ...ciFiles.map((f): [string, Json] => [`ci/${f}`, helmMerge(values, readYaml(join(CHART, 'ci', f)))])];
    for (const [name, doc] of docs) {
      expect(ajv.validate(schema, doc), `${name}: ${JSON.stringify(ajv.errors)}`).toBe(true);
    }
    // The schema must be able to say no, or the checks above prove nothing.
    expect(ajv.validate(schema, helmMerge(values, { gatewy: { enabled: false } }))).toBe(false);
    expect(ajv.validate(schema, helmMerge(values, { gateway: { replicas: 'two' } }))).toBe(false);
  });
});
