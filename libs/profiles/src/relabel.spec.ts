import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { parseRelabelConfigs, relabel } from './relabel';

const base = () =>
  new Map([
    ['comm', 'postgres'],
    ['pid', '42'],
    ['executable', '/usr/lib/postgresql/16/bin/postgres'],
    ['__meta_cgroup', '/system.slice/postgresql.service'],
  ]);

describe(relabel.name, () => {
  it('keeps and drops by regex over joined source labels', () => {
    const keep = parseRelabelConfigs('- {action: keep, source_labels: [comm], regex: "post.*"}');
    expect(relabel(base(), keep)).not.toBeNull();
    const drop = parseRelabelConfigs('relabel_configs:\n  - {action: drop, source_labels: [comm, pid], separator: "/", regex: "postgres/4."}');
    expect(relabel(base(), drop)).toBeNull();
    const anchored = parseRelabelConfigs('- {action: drop, source_labels: [comm], regex: "post"}');
    expect(relabel(base(), anchored)).not.toBeNull();
  });

  it('replaces with capture groups and deletes on an empty result', () => {
    const rules = parseRelabelConfigs(`
- source_labels: [__meta_cgroup]
  regex: '/system.slice/(.+)\\.service'
  target_label: service
- source_labels: [executable]
  regex: '.*/(?<ver>\\d+)/bin/.*'
  target_label: pg_version
  replacement: 'v\${ver}'
- {source_labels: [comm], target_label: pid, replacement: ''}
`);
    const out = relabel(base(), rules);
    expect(out?.get('service')).toBe('postgresql');
    expect(out?.get('pg_version')).toBe('v16');
    expect(out?.has('pid')).toBe(false);
  });

  it('maps, drops and keeps label names', () => {
    const rules = parseRelabelConfigs(`
- {action: labelmap, regex: '__meta_(.+)', replacement: 'meta_$1'}
- {action: labeldrop, regex: 'pid'}
`);
    const out = relabel(base(), rules);
    expect(out?.get('meta_cgroup')).toBe('/system.slice/postgresql.service');
    expect(out?.has('pid')).toBe(false);
    const kept = relabel(base(), parseRelabelConfigs("- {action: labelkeep, regex: 'comm|pid'}"));
    expect([...(kept?.keys() ?? [])].sort()).toEqual(['comm', 'pid']);
  });

  it('rejects bad configs naming the rule', () => {
    const bad = (y: string) => {
      try {
        parseRelabelConfigs(y);
      } catch (err) {
        expect(isFirnError(err, 'invalid_argument')).toBe(true);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('- {action: hashmod}')).toMatch(/relabel_configs\[0\]: action must be one of/);
    expect(bad('- {source_labels: [a]}')).toMatch(/replace needs target_label/);
    expect(bad('- {action: keep, regex: "("}')).toMatch(/relabel_configs\[0\]/);
    expect(bad('- {action: drop, source_labels: [a], regx: x}')).toMatch(/unknown field regx/);
    expect(bad('{a: 1}')).toMatch(/must be a list/);
    expect(parseRelabelConfigs('')).toEqual([]);
  });
});
