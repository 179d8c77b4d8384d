// Consistency checks for charts/firn that need no Helm: they read the chart's files as text and
// YAML and compare them with each other and with the apps. They do NOT render templates, so a
// template that is wrong Go-template or wrong Kubernetes passes here; `helm lint --strict` and
// `helm template` (charts/firn/README.md) are the render checks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

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
const SCALED_ONLY_KEYS = new Set(['replicas']);

/** Setting names and defaults from each app's README table (generated from its config schema). */
function appSettings(app: string): Map<string, string> {
  const text = readFileSync(join(ROOT, 'apps', app, 'README.md'), 'utf8');
  const rows = [...text.matchAll(/^\| `(FIRN_[A-Z0-9_]+)` \| `--[a-z0-9-]+` \| ([^|]+) \|/gm)];
  return new Map(rows.map((m) => [m[1], m[2].trim().replace(/^`|`$/g, '')]));
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
    const entry = /"entry" "([^"]+)"/.exec(args)?.[1];
    expect(entry).toBe(`apps/${name}/src/main.ts`);
    expect(existsSync(join(ROOT, entry ?? '')), `${entry} exists`).toBe(true);
    const section = values[key] as JsonObject;
    expect(String(section.port)).toBe(appSettings(name).get('FIRN_PORT'));
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

  it('sets only FIRN_* variables that some app documents as a setting', () => {
    const apps = readdirSync(join(ROOT, 'apps')).filter((a) => existsSync(join(ROOT, 'apps', a, 'README.md')));
    const known = new Set(apps.flatMap((a) => [...appSettings(a).keys()]));
    const set = templateFiles.flatMap((f) => [...templateSource(f).matchAll(/name: (FIRN_[A-Z0-9_]+)/g)].map((m) => m[1]));
    expect(set.length).toBeGreaterThan(10);
    expect(set.filter((n) => !known.has(n))).toEqual([]);
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
