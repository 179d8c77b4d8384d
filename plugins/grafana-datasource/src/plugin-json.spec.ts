import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { admits, PLUGIN_SCHEMA, validate } from '../tests/plugin-schema';
import { ROUTE_PATH } from './types';

const pluginJson = JSON.parse(readFileSync(join(__dirname, 'plugin.json'), 'utf8')) as Record<string, unknown> & {
  id: string;
  info: { logos: { small: string; large: string } };
  dependencies: { grafanaDependency: string };
  routes: Array<{ path: string; url: string; headers: Array<{ name: string; content: string }> }>;
};

describe('plugin.json', () => {
  it("does meet Grafana's published plugin.json schema", () => {
    expect(validate(pluginJson, PLUGIN_SCHEMA)).toEqual([]);
    expect(pluginJson).toMatchObject({ type: 'datasource', id: 'firn-profiles-datasource', metrics: true, category: 'profiling' });
    for (const logo of Object.values(pluginJson.info.logos)) expect(existsSync(join(__dirname, logo)), logo).toBe(true);
  });

  it('does have a checker that catches what the schema forbids', () => {
    const broken = { ...pluginJson, id: 'Firn_DS', extra: 1, info: { ...pluginJson.info, version: 'v1', keywords: [] }, dependencies: {} };
    expect(validate(broken, PLUGIN_SCHEMA)).toEqual([
      expect.stringMatching(/^\$\.id: "Firn_DS" does not match/),
      expect.stringMatching(/^\$\.info\.keywords: needs at least 1/),
      expect.stringMatching(/^\$\.info\.version: "v1" does not match/),
      '$.dependencies: missing required "grafanaDependency"',
      '$: "extra" is not allowed',
    ]);
    const badRoute = { ...pluginJson, routes: [{ path: 'x', url: 'http://a', headers: [{ name: 'A', value: 'b' }], cookie: true }] };
    expect(validate(badRoute, PLUGIN_SCHEMA)).toEqual(['$.routes[0].headers[0]: "value" is not allowed', '$.routes[0]: "cookie" is not allowed']);
  });

  it('does cover Grafana 10.4 and every later major', () => {
    const range = pluginJson.dependencies.grafanaDependency;
    for (const v of ['10.4.0', '10.4.19', '11.0.0', '11.6.16', '12.0.0', '12.4.10', '13.0.0']) expect(admits(range, v), v).toBe(true);
    for (const v of ['10.3.9', '9.5.0']) expect(admits(range, v), v).toBe(false);
  });

  it('does route requests to Firn through the proxy with the token from secure data', () => {
    // One route: the data source calls <instance url>/firn/..., Grafana's server swaps the prefix
    // for the saved Firn URL and adds the bearer token it decrypts; only these two template
    // fields (what Grafana's proxy interpolates: .JsonData / .SecureJsonData) are used.
    expect(pluginJson.routes).toEqual([
      { path: ROUTE_PATH, url: '{{ .JsonData.url }}', headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiToken }}' }] },
    ]);
    const templates = JSON.stringify(pluginJson.routes).match(/\{\{[^}]*\}\}/g) ?? [];
    for (const t of templates) expect(t).toMatch(/^\{\{ \.(JsonData|SecureJsonData)\.[a-zA-Z]+ \}\}$/);
  });
});
