/**
 * Builds the plugin the way Grafana's plugin toolchain (@grafana/create-plugin) does: webpack +
 * swc into one AMD `module.js` with Grafana's shared modules as externals, `plugin.json` and
 * README with %VERSION% / %TODAY% filled in, the logo, LICENSE and CHANGELOG beside it in
 * `dist/`, then `artifacts/<id>-<version>.zip` holding `<id>/…` — the layout Grafana's signing tool
 * and `grafana cli plugins install --pluginUrl` expect. Sign `dist/` before zipping for production
 * (README: "Signing").
 *
 *   node scripts/run-ts.cjs plugins/grafana-datasource/scripts/build.ts          # dist/ + zip
 *   node scripts/run-ts.cjs plugins/grafana-datasource/scripts/build.ts --zip    # zip dist/ as it is (after signing)
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import webpack from 'webpack';
import { writeZip } from './zip';

const ROOT = resolve(__dirname, '..');
const SRC = join(ROOT, 'src');
export const DIST = join(ROOT, 'dist');
export const ARTIFACTS = join(ROOT, 'artifacts');

interface PluginJson {
  id: string;
  info: { logos: { small: string; large: string }; screenshots?: Array<{ path: string }> };
}

export function pluginVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function pluginJson(): PluginJson {
  return JSON.parse(readFileSync(join(SRC, 'plugin.json'), 'utf8')) as PluginJson;
}

export function zipPath(): string {
  return join(ARTIFACTS, `${pluginJson().id}-${pluginVersion()}.zip`);
}

/**
 * Modules Grafana shares with plugins at run time (create-plugin's list): bundling a second copy
 * of React or @grafana/* would break hooks, themes and instanceof checks inside Grafana.
 */
const EXTERNALS: Array<string | RegExp> = [
  'lodash',
  'jquery',
  'moment',
  'slate',
  'emotion',
  '@emotion/react',
  '@emotion/css',
  'prismjs',
  'slate-plain-serializer',
  '@grafana/slate-react',
  'react',
  'react-dom',
  'react-redux',
  'redux',
  'rxjs',
  'react-router',
  'react-router-dom',
  'd3',
  'angular',
  /^@grafana\/ui/i,
  /^@grafana\/runtime/i,
  /^@grafana\/data/i,
];

function compile(version: string, today: string): Promise<void> {
  const id = pluginJson().id;
  const config: webpack.Configuration = {
    mode: 'production',
    target: 'web',
    context: SRC,
    devtool: 'source-map',
    entry: { module: './module.ts' },
    externals: EXTERNALS,
    module: {
      rules: [
        {
          test: /\.[tj]sx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                target: 'es2015',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
                // React.createElement: every Grafana since 10.4 shares `react`; `react/jsx-runtime` only later ones.
                transform: { react: { runtime: 'classic' } },
              },
              // ES modules in, so webpack can drop unused exports.
              module: { type: 'es6' },
            },
          },
        },
      ],
    },
    output: {
      path: DIST,
      filename: '[name].js',
      library: { type: 'amd' },
      publicPath: `public/plugins/${id}/`,
      uniqueName: id,
      clean: true,
    },
    resolve: { extensions: ['.ts', '.tsx', '.js', '.jsx'] },
    performance: { hints: false },
  };
  return new Promise<void>((done, fail) => {
    webpack(config, (err, stats) => {
      if (err) return fail(err);
      if (!stats || stats.hasErrors()) return fail(new Error(stats?.toString({ all: false, errors: true, errorDetails: true }) ?? 'webpack failed'));
      done();
    });
  }).then(() => copyStatic(version, today));
}

function fill(text: string, version: string, today: string, id: string): string {
  return text
    .replace(/%VERSION%/g, version)
    .replace(/%TODAY%/g, today)
    .replace(/%PLUGIN_ID%/g, id);
}

function copyStatic(version: string, today: string): void {
  const pj = pluginJson();
  const copy = (from: string, to: string) => {
    mkdirSync(dirname(join(DIST, to)), { recursive: true });
    copyFileSync(from, join(DIST, to));
  };
  writeFileSync(join(DIST, 'plugin.json'), fill(readFileSync(join(SRC, 'plugin.json'), 'utf8'), version, today, pj.id));
  writeFileSync(join(DIST, 'README.md'), fill(readFileSync(join(ROOT, 'README.md'), 'utf8'), version, today, pj.id));
  copy(join(ROOT, 'LICENSE'), 'LICENSE');
  copy(join(ROOT, 'CHANGELOG.md'), 'CHANGELOG.md');
  const assets = new Set([pj.info.logos.small, pj.info.logos.large, ...(pj.info.screenshots ?? []).map((s) => s.path)]);
  for (const a of assets) copy(join(SRC, a), a);
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** `<id>-<version>.zip` with every file of dist/ under `<id>/`, as Grafana's install and signing tools expect. */
export function zipDist(): string {
  const id = pluginJson().id;
  const out = zipPath();
  mkdirSync(ARTIFACTS, { recursive: true });
  const entries = files(DIST)
    .sort()
    .map((p) => ({ name: `${id}/${relative(DIST, p).split('\\').join('/')}`, data: readFileSync(p) }));
  writeZip(out, entries);
  return out;
}

async function main(): Promise<void> {
  if (process.argv.includes('--zip')) {
    console.log(`plugin zip: ${relative(process.cwd(), zipDist())}`);
    return;
  }
  rmSync(ARTIFACTS, { recursive: true, force: true });
  await compile(pluginVersion(), new Date().toISOString().slice(0, 10));
  console.log(`plugin built: ${relative(process.cwd(), DIST)}/, zip: ${relative(process.cwd(), zipDist())}`);
}

// run-ts.cjs sets argv[1] to the entry it runs; tests import this file for its paths.
if (process.argv[1] === __filename) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
