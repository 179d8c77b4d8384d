import { FirnError } from '@firn/errors';
import { parsePyroscopeName } from './folded';
import { sanitizeLabelNames, type Label } from './labels';

/**
 * How Pyroscope's `/ingest` names series and profile types, so data pushed by its SDKs lands
 * where Grafana's Pyroscope data source and dashboards built on Pyroscope look for it.
 * Read from grafana/pyroscope: pkg/ingester/pyroscope/ingest_adapter.go (folded and other tree
 * formats), pkg/og/convert/pprof/profile.go (pprof), pkg/validation/validate.go (label names).
 */

/** Pyroscope's `pyroscope_spy` series label: the SDK that sent the profile (`nodespy`, `gospy`, ...). */
export const PYROSCOPE_SPY_LABEL = 'pyroscope_spy';
const SERVICE_NAME = 'service_name';
const APP_NAME = 'app_name';
/** The one private (`__`-prefixed) label Pyroscope keeps from an upload: Go SDK session ids. */
const SESSION_ID = '__session_id__';

export interface PyroscopeSeriesOptions {
  /** The `name` query parameter: `app[.kind]{key=value,…}`. */
  name: string;
  /**
   * `pprof`: the service name is the whole app name, as Pyroscope keeps it; `folded` (and the
   * other tree formats): a known kind suffix (`.cpu`, `.alloc_space`, …) is cut off first.
   */
  format: 'pprof' | 'folded';
  /** `spyName` query parameter; Pyroscope stores `unknown` when it is absent. */
  spyName?: string;
}

export interface PyroscopeSeries {
  /** Series labels of every row of the upload (names sanitized, unsorted). */
  labels: Label[];
  /** Kind suffix for folded uploads (`cpu` when none). */
  sampleType: string;
  /** The app name without its kind suffix. */
  appName: string;
}

/**
 * The series labels of an `/ingest` upload, as Pyroscope builds them: the tags of `name` (label
 * names sanitized like Pyroscope's legacy rule, widened as in sanitizeLabelNames; tags starting
 * with `__` dropped except `__session_id__`), `service_name` (a `service_name` tag wins; folded
 * uploads then keep the app name as `app_name`), and `pyroscope_spy`.
 */
export function pyroscopeSeriesLabels(opts: PyroscopeSeriesOptions): PyroscopeSeries {
  const parsed = parsePyroscopeName(opts.name);
  const tags = sanitizeLabelNames(parsed.labels).filter(([n]) => !n.startsWith('__') || n === SESSION_ID);
  const fullName = opts.name.slice(0, opts.name.includes('{') ? opts.name.indexOf('{') : undefined).trim();
  const service = opts.format === 'pprof' ? fullName : parsed.appName;
  const labels: Label[] = tags.filter(([n]) => n !== PYROSCOPE_SPY_LABEL);
  if (!tags.some(([n]) => n === SERVICE_NAME)) labels.push([SERVICE_NAME, service]);
  else if (opts.format === 'folded' && !tags.some(([n]) => n === APP_NAME)) labels.push([APP_NAME, parsed.appName]);
  labels.push([PYROSCOPE_SPY_LABEL, opts.spyName || 'unknown']);
  return { labels, sampleType: parsed.sampleType, appName: parsed.appName };
}

/** A `sample_type_config` entry of a multipart upload (pyroscope-go); only the display name matters here. */
export interface SampleTypeConfig {
  'display-name'?: string;
  units?: string;
  aggregation?: string;
  cumulative?: boolean;
  sampled?: boolean;
}

/** Pyroscope's defaults when an upload has no `sample_type_config` (Go runtime sample types). */
const DEFAULT_DISPLAY_NAMES: Record<string, string> = {
  samples: 'cpu',
  goroutine: 'goroutines',
  contentions: 'mutex_count',
  delay: 'mutex_duration',
};

/**
 * The profile name (first part of every profile type id) of a pprof upload, from its sample
 * types, exactly as Pyroscope's `/ingest` picks it: `wall` if any sample type is `wall`;
 * otherwise the first sample type whose display name contains `cpu` → `process_cpu`,
 * `alloc_`/`inuse_` or is `space`/`objects` → `memory`, `mutex_` → `mutex`, `block_` → `block`,
 * `goroutines` → `goroutines`; with none of those, the last sample type itself.
 * A `sample_type_config` replaces the default display names as a whole (as in Pyroscope).
 */
export function pyroscopeProfileName(sampleTypes: readonly string[], config?: Readonly<Record<string, SampleTypeConfig>>): string {
  if (sampleTypes.includes('wall')) return 'wall';
  let st = '';
  for (const t of sampleTypes) {
    st = (config ? config[t]?.['display-name'] : DEFAULT_DISPLAY_NAMES[t]) || t;
    if (st.includes('cpu')) return 'process_cpu';
    if (st.includes('alloc_') || st.includes('inuse_') || st === 'space' || st === 'objects') return 'memory';
    if (st.includes('mutex_')) return 'mutex';
    if (st.includes('block_')) return 'block';
    if (st.includes('goroutines')) return 'goroutines';
  }
  return st;
}

/** Parses a multipart `sample_type_config` part (JSON object of sample type → config). */
export function parseSampleTypeConfig(text: string): Record<string, SampleTypeConfig> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw FirnError.invalidArgument(`sample_type_config is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw FirnError.invalidArgument('sample_type_config must be a JSON object of sample type → settings');
  const out: Record<string, SampleTypeConfig> = {};
  for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw FirnError.invalidArgument(`sample_type_config["${k}"] must be an object`);
    const dn = (c as Record<string, unknown>)['display-name'];
    if (dn !== undefined && typeof dn !== 'string') throw FirnError.invalidArgument(`sample_type_config["${k}"]["display-name"] must be a string`);
    out[k] = c as SampleTypeConfig;
  }
  return out;
}
