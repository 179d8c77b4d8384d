import { FirnError } from '@firn/errors';

export type Label = [string, string];

export interface LabelLimits {
  maxLabels: number;
  maxNameLength: number;
  maxValueLength: number;
}

export const DEFAULT_LABEL_LIMITS: LabelLimits = { maxLabels: 64, maxNameLength: 1024, maxValueLength: 2048 };

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// A UTF-16 string is valid UTF-8 material iff it has no unpaired surrogate.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isWellFormedString(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/**
 * Throws invalid_argument (naming the label) unless the set is acceptable: Prometheus-style
 * names, well-formed values, length and count limits, no duplicate names.
 */
export function validateLabels(labels: ReadonlyArray<readonly [string, string]>, limits: LabelLimits = DEFAULT_LABEL_LIMITS): void {
  if (labels.length > limits.maxLabels) {
    throw FirnError.invalidArgument(`too many labels: ${labels.length} > ${limits.maxLabels}`, { limit: 'max_labels' });
  }
  const seen = new Set<string>();
  for (const [name, value] of labels) {
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw FirnError.invalidArgument('label names and values must be strings');
    }
    if (name.length > limits.maxNameLength) {
      throw FirnError.invalidArgument(`label name ${show(name)} is longer than ${limits.maxNameLength} characters`, {
        limit: 'max_label_name_length',
      });
    }
    if (!LABEL_NAME.test(name)) {
      throw FirnError.invalidArgument(`invalid label name ${show(name)}: must match [a-zA-Z_][a-zA-Z0-9_]*`);
    }
    if (value.length > limits.maxValueLength) {
      throw FirnError.invalidArgument(`value of label "${name}" is longer than ${limits.maxValueLength} characters`, {
        limit: 'max_label_value_length',
      });
    }
    if (!isWellFormedString(value)) {
      throw FirnError.invalidArgument(`value of label "${name}" is not valid UTF-8 (unpaired surrogate)`);
    }
    if (seen.has(name)) throw FirnError.invalidArgument(`duplicate label name "${name}"`);
    seen.add(name);
  }
}

/**
 * Validates and returns a new, name-sorted label set. Labels with an empty value are dropped:
 * like Prometheus, an empty value means "absent", so `{a=""}` and `{}` are the same series.
 */
export function normalizeLabels(labels: ReadonlyArray<readonly [string, string]>, limits: LabelLimits = DEFAULT_LABEL_LIMITS): Label[] {
  validateLabels(labels, limits);
  const out: Label[] = [];
  for (const [n, v] of labels) if (v !== '') out.push([n, v]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

/**
 * Pyroscope's legacy label-name sanitising, widened: Pyroscope turns the dots of names such as
 * `otel.scope.name` (which its SDKs always send) into `_` and rejects any other character
 * outside `[a-zA-Z0-9_]`; Firn turns those into `_` too (pprof label keys are free text, and a
 * rejected upload is invisible behind an SDK that swallows errors), and prefixes `_` to a name
 * that starts with a digit. Valid names are returned unchanged.
 */
export function sanitizeLabelName(name: string): string {
  if (LABEL_NAME.test(name)) return name;
  let s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (s === '' || (s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57)) s = `_${s}`;
  return s;
}

/**
 * Sanitizes every name (sanitizeLabelName). Two labels that end up with one name are merged when
 * their values are equal and rejected (invalid_argument naming both) when not, as Pyroscope does.
 * Order is kept; an empty name is rejected.
 */
export function sanitizeLabelNames(labels: ReadonlyArray<readonly [string, string]>): Label[] {
  const out: Label[] = [];
  const origin = new Map<string, { original: string; value: string }>();
  for (const [name, value] of labels) {
    if (name === '') throw FirnError.invalidArgument(`empty label name (value ${show(value)})`);
    const clean = sanitizeLabelName(name);
    const seen = origin.get(clean);
    if (seen) {
      if (seen.value === value) continue;
      throw FirnError.invalidArgument(`labels ${show(seen.original)} and ${show(name)} both become "${clean}" once sanitized, with different values`);
    }
    origin.set(clean, { original: name, value });
    out.push([clean, value]);
  }
  return out;
}

/** Merges label sets; for a name present in several, the earliest set in `sets` wins. */
export function mergeLabels(...sets: ReadonlyArray<ReadonlyArray<readonly [string, string]>>): Label[] {
  const seen = new Map<string, string>();
  for (const set of sets) for (const [n, v] of set) if (!seen.has(n)) seen.set(n, v);
  return [...seen.entries()];
}

/** A stable string key for a normalized (sorted) label set. */
export function labelsKey(labels: ReadonlyArray<readonly [string, string]>): string {
  let k = '';
  for (const [n, v] of labels) k += `${n}\u0000${v}\u0001`;
  return k;
}
