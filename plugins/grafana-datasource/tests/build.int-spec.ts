// @vitest-environment jsdom
import './grafana-env';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as grafanaData from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaUi from '@grafana/ui';
import * as react from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureBuilt, PLUGIN_ROOT, zipFile } from './built-plugin';
import { admits, PLUGIN_SCHEMA, validate } from './plugin-schema';

/** Modules Grafana's plugin loader provides to every plugin (the bundle may import only these). */
const SHARED: Record<string, unknown> = { '@grafana/data': grafanaData, '@grafana/runtime': grafanaRuntime, '@grafana/ui': grafanaUi, react };

function distFiles(dir = DIST): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? distFiles(join(dir, n)) : [relative(DIST, join(dir, n))]));
}

/** Loads dist/module.js as Grafana does: an AMD module whose dependencies the host supplies. */
function loadAmd(code: string): { deps: string[]; exports: Record<string, unknown> } {
  let loaded: { deps: string[]; exports: Record<string, unknown> } | undefined;
  const define = (deps: string[], factory: (...mods: unknown[]) => Record<string, unknown>) => {
    loaded = { deps, exports: factory(...deps.map((d) => SHARED[d])) };
  };
  define.amd = {};
  new Function('define', code)(define);
  if (!loaded) throw new Error('module.js did not call define()');
  return loaded;
}

describe('plugin build', () => {
  const version = (JSON.parse(readFileSync(join(PLUGIN_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  beforeAll(async () => {
    await ensureBuilt();
  }, 600_000);

  it('does produce the files Grafana loads and its signing tool expects', () => {
    expect(distFiles().sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'img/logo.svg', 'module.js', 'module.js.map', 'plugin.json']);
  });

  it('does write a plugin.json that meets the schema, with the version and build date filled in', () => {
    const pj = JSON.parse(readFileSync(join(DIST, 'plugin.json'), 'utf8')) as {
      info: { version: string; updated: string };
      dependencies: { grafanaDependency: string };
    };
    expect(validate(pj, PLUGIN_SCHEMA)).toEqual([]);
    expect(pj.info.version).toBe(version);
    expect(pj.info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(admits(pj.dependencies.grafanaDependency, '10.4.0')).toBe(true);
    expect(readFileSync(join(DIST, 'README.md'), 'utf8')).not.toMatch(/%VERSION%|%TODAY%/);
  });

  it('does bundle an AMD module that imports only what Grafana shares and exports the plugin', () => {
    const code = readFileSync(join(DIST, 'module.js'), 'utf8');
    const { deps, exports } = loadAmd(code);
    expect(
      deps.every((d) => d in SHARED),
      deps.join(', '),
    ).toBe(true);
    // React and Grafana's packages stay external: a second React inside the bundle would break hooks.
    expect(code).not.toContain('__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED');
    expect(code.length).toBeLessThan(200_000);
    const plugin = exports.plugin as grafanaData.DataSourcePlugin<grafanaData.DataSourceApi>;
    expect(plugin).toBeInstanceOf(grafanaData.DataSourcePlugin);
    expect(typeof plugin.components.ConfigEditor).toBe('function');
    expect(typeof plugin.components.QueryEditor).toBe('function');
    const ds = new plugin.DataSourceClass({ uid: 'u', name: 'Firn', type: 'firn-profiles-datasource', jsonData: {} } as never);
    expect(ds).toBeInstanceOf(grafanaData.DataSourceApi);
    expect(typeof ds.testDatasource).toBe('function');
  });

  it('does zip dist/ under the plugin id, as a versioned archive any unzip reads', () => {
    const zip = zipFile();
    expect(basename(zip)).toBe(`firn-profiles-datasource-${version}.zip`);
    // An independent reader: Python's zipfile lists the entries and checks every CRC.
    const listing = execFileSync(
      'python3',
      ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print("\\n".join(z.namelist()))', zip],
      { encoding: 'utf8' },
    );
    expect(listing.trim().split('\n').sort()).toEqual(
      distFiles()
        .map((f) => `firn-profiles-datasource/${f}`)
        .sort(),
    );
    const moduleJs = execFileSync('python3', [
      '-c',
      'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))',
      zip,
      'firn-profiles-datasource/module.js',
    ]);
    expect(moduleJs.equals(readFileSync(join(DIST, 'module.js')))).toBe(true);
  });
});
