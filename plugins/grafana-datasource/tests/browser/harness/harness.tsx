/**
 * A test page that does for the built plugin what Grafana's frontend does: loads dist/module.js
 * as an AMD module with Grafana's shared modules (React, @grafana/data, @grafana/ui,
 * @grafana/runtime), sets the runtime services (getBackendSrv → HTTP to the Grafana-like proxy,
 * getTemplateSrv), then mounts the plugin's ConfigEditor (with a "Save & test" button that saves
 * and calls testDatasource, as Grafana's settings page does) and its QueryEditor (whose
 * onRunQuery runs the data source and renders the frames with Grafana's flame graph component).
 */
import * as grafanaData from '@grafana/data';
import {
  CoreApp,
  createTheme,
  DataFrame,
  DataQueryResponse,
  DataSourceApi,
  DataSourcePlugin,
  DataSourceSettings,
  dateTime,
  ThemeContext,
  TimeRange,
} from '@grafana/data';
import { FlameGraph } from '@grafana/flamegraph';
import * as grafanaRuntime from '@grafana/runtime';
import { setBackendSrv, setTemplateSrv } from '@grafana/runtime';
import * as grafanaUi from '@grafana/ui';
import { Alert, Button, GlobalStyles } from '@grafana/ui';
import React, { useEffect, useRef, useState } from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as rxjs from 'rxjs';
import { TestBackendSrv } from '../../backend-srv';
import { TestTemplateSrv } from '../../template-srv';

type FirnQuery = grafanaData.DataQuery & Record<string, unknown>;
type Plugin = DataSourcePlugin<DataSourceApi<FirnQuery>, FirnQuery>;

const PLUGIN_ID = 'firn-profiles-datasource';
const theme = createTheme({ colors: { mode: 'dark' } });

/** What Grafana's plugin loader provides to plugins under these names. */
const SHARED: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUi,
  '@grafana/runtime': grafanaRuntime,
  rxjs,
};

function loadPlugin(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const define = (deps: string[], factory: (...mods: unknown[]) => Record<string, unknown>) => {
      try {
        resolve(
          factory(
            ...deps.map((d) => {
              if (!(d in SHARED)) throw new Error(`the plugin imports "${d}", which Grafana does not share with plugins`);
              return SHARED[d];
            }),
          ),
        );
      } catch (err) {
        reject(err);
      }
    };
    define.amd = {};
    Object.assign(window, { define });
    const script = document.createElement('script');
    script.src = url;
    script.onerror = () => reject(new Error(`cannot load ${url}`));
    document.head.appendChild(script);
  });
}

function summary(res: DataQueryResponse | undefined): string {
  if (!res) return 'not run';
  const lines: string[] = [];
  for (const f of res.data as DataFrame[]) {
    const col = (n: string) => f.fields.find((x) => x.name === n)?.values;
    if (f.meta?.preferredVisualisationType === 'flamegraph') {
      const labels = col('label') ?? [];
      const right = col('valueRight');
      lines.push(`flamegraph total=${col('value')?.[0] ?? 0}${right ? ` right=${right[0]}` : ''} nodes=${labels.length} labels=${[...labels].join(',')}`);
    } else {
      const v = f.fields[1];
      lines.push(`series ${v?.config.displayNameFromDS ?? v?.name} points=${[...(v?.values ?? [])].join(',')}`);
    }
  }
  for (const e of res.errors ?? []) lines.push(`error ${e.refId}: ${e.message}`);
  return lines.join('\n');
}

const panel: React.CSSProperties = {
  border: `1px solid ${theme.colors.border.weak}`,
  borderRadius: 4,
  padding: 16,
  marginBottom: 16,
  background: theme.colors.background.primary,
};

function QueryPanel({ plugin, ds, range, initial }: { plugin: Plugin; ds: DataSourceApi<FirnQuery>; range: TimeRange; initial: FirnQuery }) {
  const QueryEditor = plugin.components.QueryEditor;
  if (!QueryEditor) throw new Error('the plugin has no query editor');
  const [query, setQuery] = useState<FirnQuery>(initial);
  const latest = useRef(query);
  const runs = useRef(0);
  const [runCount, setRunCount] = useState(0);
  const [result, setResult] = useState<DataQueryResponse>();

  // Grafana's query rows call onChange, then onRunQuery with the updated queries.
  const onChange = (q: FirnQuery) => {
    latest.current = q;
    setQuery(q);
  };
  const onRunQuery = async () => {
    const n = ++runs.current;
    setRunCount(n);
    const targets = [latest.current];
    const res = await (ds.query({
      requestId: `run-${n}`,
      app: CoreApp.Dashboard,
      interval: '1m',
      intervalMs: 60_000,
      range,
      scopedVars: {},
      targets,
      timezone: 'utc',
      startTime: Date.now(),
    }) as Promise<DataQueryResponse>);
    if (n === runs.current) setResult(res);
  };
  // A panel runs its queries once when it mounts.
  useEffect(() => {
    void onRunQuery();
  }, []);

  const flame = (result?.data as DataFrame[] | undefined)?.find((f) => f.meta?.preferredVisualisationType === 'flamegraph');
  return (
    <div style={panel}>
      <h3>Query editor</h3>
      <QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={() => void onRunQuery()} range={range} app={CoreApp.Dashboard} />
      <div style={{ marginTop: 16, color: theme.colors.text.secondary }}>
        Runs: <span data-testid="run-count">{runCount}</span>
      </div>
      <pre data-testid="result" style={{ whiteSpace: 'pre-wrap', fontSize: 12 }}>
        {summary(result)}
      </pre>
      {flame && (
        <div style={{ marginTop: 8 }} data-testid="flamegraph">
          <FlameGraph data={flame} getTheme={() => theme} showFlameGraphOnly />
        </div>
      )}
    </div>
  );
}

function ConfigPanel({ plugin }: { plugin: Plugin }) {
  const ConfigEditor = plugin.components.ConfigEditor;
  if (!ConfigEditor) throw new Error('the plugin has no config editor');
  const [options, setOptions] = useState<DataSourceSettings>({
    id: 2,
    uid: 'firn-config',
    orgId: 1,
    name: 'Firn',
    type: PLUGIN_ID,
    typeName: 'Firn',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    secureJsonData: {},
    readOnly: false,
    withCredentials: false,
  });
  const [test, setTest] = useState<{ status: string; message: string }>();
  const [testing, setTesting] = useState(false);

  // Grafana's "Save & test": save (secrets go to the server and come back only as
  // secureJsonFields), then ask a fresh data source instance to test itself.
  const saveAndTest = async () => {
    setTesting(true);
    setTest(undefined);
    const saved = (await (
      await fetch(`/api/datasources/uid/${options.uid}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonData: options.jsonData, secureJsonData: options.secureJsonData }),
      })
    ).json()) as {
      jsonData: Record<string, unknown>;
      secureJsonFields: Record<string, boolean>;
    };
    setOptions({ ...options, jsonData: saved.jsonData, secureJsonFields: saved.secureJsonFields, secureJsonData: {} });
    const ds = new plugin.DataSourceClass({
      id: 2,
      uid: options.uid,
      name: 'Firn',
      type: PLUGIN_ID,
      access: 'proxy',
      url: `/api/datasources/proxy/uid/${options.uid}`,
      jsonData: saved.jsonData,
      meta: plugin.meta,
      readOnly: false,
    } as never);
    setTest(await ds.testDatasource());
    setTesting(false);
  };

  return (
    <div style={panel}>
      <h3>Data source settings</h3>
      <ConfigEditor options={options} onOptionsChange={setOptions} />
      <div style={{ marginTop: 16 }}>
        <Button id="save-and-test" onClick={() => void saveAndTest()} disabled={testing}>
          Save &amp; test
        </Button>
      </div>
      {test && (
        <div data-testid="test-result" data-status={test.status} style={{ marginTop: 16 }}>
          <Alert severity={test.status === 'success' ? 'success' : 'error'} title={test.message} />
        </div>
      )}
      <pre data-testid="saved-options" style={{ display: 'none' }}>
        {JSON.stringify({ jsonData: options.jsonData, secureJsonFields: options.secureJsonFields, secureJsonData: options.secureJsonData })}
      </pre>
    </div>
  );
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const range: TimeRange = { from: dateTime(Number(params.get('from'))), to: dateTime(Number(params.get('to'))), raw: { from: 'now-1h', to: 'now' } };
  setBackendSrv(new TestBackendSrv('') as never);
  setTemplateSrv(new TestTemplateSrv() as never);

  const exports = await loadPlugin(`/public/plugins/${PLUGIN_ID}/module.js`);
  const plugin = exports.plugin as Plugin;
  const uid = params.get('uid') ?? 'firn';
  const settings = (await (await fetch(`/api/datasources/uid/${uid}`)).json()) as { jsonData: Record<string, unknown> };
  const ds = new plugin.DataSourceClass({
    id: 1,
    uid,
    name: 'Firn',
    type: PLUGIN_ID,
    access: 'proxy',
    url: `/api/datasources/proxy/uid/${uid}`,
    jsonData: settings.jsonData,
    meta: plugin.meta,
    readOnly: false,
  } as never);
  const initial = { refId: 'A', ...ds.getDefaultQuery?.(CoreApp.Dashboard) } as FirnQuery;

  const show = params.get('show') ?? 'query';
  createRoot(document.getElementById('root') as HTMLElement).render(
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ padding: 24, maxWidth: 1200 }}>
        {show === 'config' ? <ConfigPanel plugin={plugin} /> : <QueryPanel plugin={plugin} ds={ds} range={range} initial={initial} />}
      </div>
    </ThemeContext.Provider>,
  );
}

main().catch((err: unknown) => {
  document.body.textContent = `harness failed: ${err instanceof Error ? err.stack : String(err)}`;
});
