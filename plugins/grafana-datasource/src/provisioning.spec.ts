import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseMatchers } from './selector';
import { parseVariableQuery } from './variables';

const ROOT = join(__dirname, '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const pluginId = (JSON.parse(read('src/plugin.json')) as { id: string }).id;

/** jsonData / secureJsonData keys the plugin reads (types.ts), and query fields (FirnQuery). */
const OPTION_KEYS = ['url', 'defaultProfileType', 'minStep', 'tlsSkipVerify', 'tlsAuthWithCACert'];
const SECURE_KEYS = ['apiToken', 'tlsCACert'];
const QUERY_KEYS = [
  'refId',
  'datasource',
  'hide',
  'queryType',
  'profileTypeId',
  'labelSelector',
  'groupBy',
  'step',
  'maxNodes',
  'diff',
  'baselineSelector',
  'baselineOffset',
];

interface ProvisionedDs {
  name: string;
  type: string;
  uid: string;
  access: string;
  url?: string;
  jsonData: Record<string, unknown>;
  secureJsonData: Record<string, string>;
}

describe('provisioning examples', () => {
  it('does provision the plugin with the settings its proxy route reads', () => {
    const { apiVersion, datasources } = parse(read('provisioning/datasources/firn.yaml')) as { apiVersion: number; datasources: ProvisionedDs[] };
    expect(apiVersion).toBe(1);
    expect(datasources).toHaveLength(1);
    const [ds] = datasources;
    expect(ds).toMatchObject({ type: pluginId, access: 'proxy', uid: 'firn' });
    expect(Object.keys(ds.jsonData).every((k) => OPTION_KEYS.includes(k))).toBe(true);
    expect(Object.keys(ds.secureJsonData).every((k) => SECURE_KEYS.includes(k))).toBe(true);
    // The route: {{ .JsonData.url }} and {{ .SecureJsonData.apiToken }}.
    expect(new URL(String(ds.jsonData.url)).protocol).toBe('http:');
    expect(ds.secureJsonData.apiToken).toBe('${FIRN_GRAFANA_TOKEN}');
  });

  it("does point Grafana's built-in Parca and Pyroscope data sources at Firn with the token header", () => {
    const { datasources } = parse(read('provisioning/datasources/builtin-parca-pyroscope.yaml')) as { datasources: ProvisionedDs[] };
    expect(datasources.map((d) => d.type)).toEqual(['parca', 'grafana-pyroscope-datasource']);
    for (const d of datasources) {
      expect(d.url).toMatch(/^http:\/\/.+:7070$/);
      expect(d.jsonData.httpHeaderName1).toBe('Authorization');
      expect(d.secureJsonData.httpHeaderValue1).toBe('Bearer ${FIRN_GRAFANA_TOKEN}');
    }
  });

  it('does ship a dashboard whose panels and variables use only what the plugin understands', () => {
    const dash = JSON.parse(read('provisioning/dashboards/firn-fleet-cpu.json')) as {
      uid: string;
      templating: { list: Array<{ name: string; type: string; query: string; datasource?: { type: string } }> };
      panels: Array<{ type: string; datasource: { type: string }; targets: Array<Record<string, unknown>> }>;
    };
    expect(dash.uid).toBe('firn-fleet-cpu');
    expect(dash.panels.map((p) => p.type)).toEqual(['timeseries', 'flamegraph']);
    for (const p of dash.panels) {
      expect(p.datasource.type).toBe(pluginId);
      for (const t of p.targets) {
        expect(Object.keys(t).filter((k) => !QUERY_KEYS.includes(k))).toEqual([]);
        expect(parseMatchers(String(t.labelSelector).replace('$namespace', 'checkout|search'))).toEqual([
          { name: 'namespace', op: '=~', value: 'checkout|search' },
        ]);
      }
    }
    const [dsVar, nsVar] = dash.templating.list;
    expect(dsVar).toMatchObject({ type: 'datasource', query: pluginId });
    expect(nsVar.datasource?.type).toBe(pluginId);
    expect(parseVariableQuery(nsVar.query)).toEqual({ kind: 'label_values', selector: 'parca_agent:samples:count:cpu:nanoseconds', label: 'namespace' });
  });

  it('does show every provisioning file in the README as it is', () => {
    const readme = read('README.md');
    for (const f of [
      'provisioning/datasources/firn.yaml',
      'provisioning/datasources/builtin-parca-pyroscope.yaml',
      'provisioning/dashboards/firn-fleet-cpu.json',
    ]) {
      expect(readme.includes(read(f)), f).toBe(true);
    }
  });
});
