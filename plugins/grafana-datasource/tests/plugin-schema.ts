/**
 * The rules of Grafana's published plugin.json schema
 * (grafana/grafana `docs/sources/developers/plugins/plugin.schema.json`, draft-07) that a
 * frontend data source plugin meets, restated here with a small checker. Transcribed from the
 * schema: top-level and `info` required fields and allowed keys (`additionalProperties: false`),
 * the id, version, updated and grafanaDependency patterns, the category and type enums, and the
 * shape of proxy `routes` (allowed keys, `headers` / `urlParams` as name+content pairs).
 */

export interface Schema {
  type?: 'object' | 'string' | 'array' | 'boolean' | 'number';
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  items?: Schema;
  pattern?: string;
  enum?: string[];
  minItems?: number;
  format?: 'uri' | 'email';
}

const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const nameContent: Schema = { type: 'object', additionalProperties: false, properties: { name: str, content: str } };

export const PLUGIN_SCHEMA: Schema = {
  type: 'object',
  required: ['type', 'name', 'id', 'info', 'dependencies'],
  additionalProperties: false,
  properties: {
    $schema: str,
    id: { type: 'string', pattern: '^[0-9a-z]+\\-([0-9a-z]+\\-)?(app|panel|datasource|secretsmanager|transformer)$' },
    type: { type: 'string', enum: ['app', 'datasource', 'panel', 'renderer', 'secretsmanager', 'transformer'] },
    name: str,
    info: {
      type: 'object',
      required: ['logos', 'version', 'updated', 'keywords'],
      additionalProperties: false,
      properties: {
        author: {
          type: 'object',
          additionalProperties: false,
          properties: { name: str, email: { type: 'string', format: 'email' }, url: { type: 'string', format: 'uri' } },
        },
        build: { type: 'object' },
        description: str,
        keywords: { type: 'array', minItems: 1, items: str },
        links: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { name: str, url: { type: 'string', format: 'uri' } } } },
        logos: { type: 'object', required: ['small', 'large'], additionalProperties: false, properties: { small: str, large: str } },
        screenshots: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { name: str, path: str } } },
        updated: { type: 'string', pattern: '^(\\d{4}-\\d{2}-\\d{2}|\\%TODAY\\%)$' },
        version: { type: 'string', pattern: '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)|(\\%VERSION\\%)$' },
      },
    },
    dependencies: {
      type: 'object',
      required: ['grafanaDependency'],
      additionalProperties: false,
      properties: {
        grafanaVersion: { type: 'string', pattern: '^([0-9]+)(\\.[0-9x]+)?(\\.[0-9x])?$' },
        grafanaDependency: {
          type: 'string',
          pattern: '^(<=|>=|<|>|=|~|\\^)?([0-9]+)(\\.[0-9x\\*]+)(\\.[0-9x\\*]+)?(\\s(<=|>=|<|=>)?([0-9]+)(\\.[0-9x]+)(\\.[0-9x]+))?$',
        },
        plugins: { type: 'array', items: { type: 'object', required: ['id', 'name', 'type', 'version'] } },
      },
    },
    alerting: bool,
    annotations: bool,
    autoEnabled: bool,
    backend: bool,
    builtIn: bool,
    category: { type: 'string', enum: ['tsdb', 'logging', 'cloud', 'tracing', 'profiling', 'sql', 'enterprise', 'iot', 'other'] },
    enterpriseFeatures: { type: 'object' },
    executable: str,
    hideFromList: bool,
    includes: { type: 'array' },
    logs: bool,
    metrics: bool,
    pascalName: { type: 'string', pattern: '^([A-Z][a-zA-Z]{1,62})$' },
    preload: bool,
    queryOptions: { type: 'object', additionalProperties: false, properties: { maxDataPoints: bool, minInterval: bool, cacheTimeout: bool } },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          path: str,
          method: str,
          url: str,
          reqSignedIn: bool,
          reqRole: str,
          headers: { type: 'array', items: nameContent },
          body: { type: 'object' },
          tokenAuth: { type: 'object' },
          jwtTokenAuth: { type: 'object' },
          urlParams: { type: 'array', items: nameContent },
        },
      },
    },
    skipDataQuery: bool,
    state: { type: 'string', enum: ['alpha', 'beta'] },
    streaming: bool,
    tracing: bool,
  },
};

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v;
}

/** Every violation of `schema` in `value`, as `path: problem` lines (empty when it conforms). */
export function validate(value: unknown, schema: Schema, path = '$'): string[] {
  const errors: string[] = [];
  if (schema.type && typeOf(value) !== schema.type) return [`${path}: expected ${schema.type}, got ${typeOf(value)}`];
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${path}: "${value}" does not match ${schema.pattern}`);
    if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: "${value}" is not one of ${schema.enum.join(', ')}`);
    if (schema.format === 'uri' && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value)) errors.push(`${path}: "${value}" is not a URI`);
    if (schema.format === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) errors.push(`${path}: "${value}" is not an email address`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: needs at least ${schema.minItems} item(s)`);
    if (schema.items) value.forEach((v, i) => errors.push(...validate(v, schema.items as Schema, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) errors.push(`${path}: missing required "${r}"`);
    for (const [k, v] of Object.entries(o)) {
      const sub = schema.properties?.[k];
      if (sub) errors.push(...validate(v, sub, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: "${k}" is not allowed`);
    }
  }
  return errors;
}

/** Whether a `>=X.Y.Z` grafanaDependency admits `version` (the only form this plugin uses). */
export function admits(range: string, version: string): boolean {
  const m = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (!m) throw new Error(`unexpected grafanaDependency form "${range}"`);
  const want = m.slice(1).map(Number);
  const have = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}
