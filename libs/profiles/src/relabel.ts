import { parse as parseYaml } from 'yaml';
import { FirnError } from '@firn/errors';

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep';
const ACTIONS: readonly RelabelAction[] = ['replace', 'keep', 'drop', 'labelmap', 'labeldrop', 'labelkeep'];

/** One Prometheus `relabel_config` (the subset without hashmod/lowercase/...). */
export interface RelabelConfig {
  action: RelabelAction;
  sourceLabels: string[];
  separator: string;
  /** Anchored like Prometheus: `^(?:regex)$`. */
  regex: RegExp;
  targetLabel: string;
  replacement: string;
}

export type Labels = Map<string, string>;

/**
 * Parses relabel rules from YAML: either a list, or `{ relabel_configs: [...] }`. Field names and
 * defaults are Prometheus' (separator `;`, regex `(.*)`, replacement `$1`, action `replace`).
 */
export function parseRelabelConfigs(yamlText: string): RelabelConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (err) {
    throw FirnError.invalidArgument(`relabel config is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  const list = Array.isArray(doc) ? doc : (doc as { relabel_configs?: unknown }).relabel_configs;
  if (!Array.isArray(list)) throw FirnError.invalidArgument('relabel config must be a list or have a relabel_configs list');
  return relabelConfigsFrom(list);
}

/**
 * Relabel rules from already-parsed YAML/JSON (e.g. a scrape config's `relabel_configs`);
 * `path` names the list in error messages.
 */
export function relabelConfigsFrom(list: readonly unknown[], path = 'relabel_configs'): RelabelConfig[] {
  return list.map((raw, i) => {
    const where = `${path}[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw FirnError.invalidArgument(`${where} must be a mapping`);
    const r = raw as Record<string, unknown>;
    const known = new Set(['action', 'source_labels', 'separator', 'regex', 'target_label', 'replacement']);
    for (const k of Object.keys(r)) if (!known.has(k)) throw FirnError.invalidArgument(`${where}: unknown field ${k}`);
    const action = (r.action ?? 'replace') as RelabelAction;
    if (!ACTIONS.includes(action)) throw FirnError.invalidArgument(`${where}: action must be one of ${ACTIONS.join(', ')} (got ${String(r.action)})`);
    const sourceLabels = r.source_labels ?? [];
    if (!Array.isArray(sourceLabels) || !sourceLabels.every((s) => typeof s === 'string'))
      throw FirnError.invalidArgument(`${where}: source_labels must be a list of label names`);
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${String(r.regex ?? '(.*)')})$`, 's');
    } catch (err) {
      throw FirnError.invalidArgument(`${where}: bad regex: ${(err as Error).message}`);
    }
    const targetLabel = String(r.target_label ?? '');
    if (action === 'replace' && !targetLabel) throw FirnError.invalidArgument(`${where}: replace needs target_label`);
    if ((action === 'keep' || action === 'drop') && sourceLabels.length === 0) throw FirnError.invalidArgument(`${where}: ${action} needs source_labels`);
    return {
      action,
      sourceLabels: sourceLabels as string[],
      separator: String(r.separator ?? ';'),
      regex,
      targetLabel,
      replacement: String(r.replacement ?? '$1'),
    };
  });
}

/** Go regexp.Expand: `$1`, `${1}`, `$name`, `${name}`; unknown groups expand to ''. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$\$|\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    if (/^\d+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

/**
 * Applies the rules in order; returns the new label set, or null when a keep/drop rule drops the
 * target. Labels with empty values are removed, as in Prometheus.
 */
export function relabel(input: Labels, configs: readonly RelabelConfig[]): Labels | null {
  const labels = new Map(input);
  for (const c of configs) {
    const value = c.sourceLabels.map((n) => labels.get(n) ?? '').join(c.separator);
    switch (c.action) {
      case 'keep':
        if (!c.regex.test(value)) return null;
        break;
      case 'drop':
        if (c.regex.test(value)) return null;
        break;
      case 'replace': {
        const m = c.regex.exec(value);
        if (!m) break;
        const target = expand(c.targetLabel, m);
        const v = expand(c.replacement, m);
        if (!target) break;
        if (v === '') labels.delete(target);
        else labels.set(target, v);
        break;
      }
      case 'labelmap':
        for (const [name, v] of [...labels]) {
          const m = c.regex.exec(name);
          if (m) labels.set(expand(c.replacement, m), v);
        }
        break;
      case 'labeldrop':
        for (const name of [...labels.keys()]) if (c.regex.test(name)) labels.delete(name);
        break;
      case 'labelkeep':
        for (const name of [...labels.keys()]) if (!c.regex.test(name)) labels.delete(name);
        break;
    }
  }
  for (const [k, v] of labels) if (v === '') labels.delete(k);
  return labels;
}
