// Compiles a TypeScript module graph to plain CommonJS with SWC: decorator metadata kept (NestJS
// needs emitDecoratorMetadata, which esbuild drops), `@firn/*` aliases rewritten to relative
// requires, and only the files reachable from the entry points emitted. Shared by
// scripts/build.cjs (servers, admin CLI) and scripts/build-agent.cjs (the agent).
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const ROOT = path.resolve(__dirname, '..', '..');

function aliases() {
  const text = fs.readFileSync(path.join(ROOT, 'tsconfig.base.json'), 'utf8');
  const paths = JSON.parse(text).compilerOptions.paths;
  return new Map(Object.entries(paths).map(([k, v]) => [k, path.join(ROOT, v[0])]));
}

function relRequire(fromOut, toOut) {
  let rel = path.relative(path.dirname(fromOut), toOut).replace(/\.js$/, '');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

/**
 * @param {object} opts
 * @param {string[]} opts.entries absolute .ts paths
 * @param {string} opts.out output directory; the tree below it mirrors the repository
 * @param {(spec: string, from: string) => void} [opts.checkAlias] throws to refuse an `@firn/*` import
 * @param {boolean} [opts.lazy] compile package imports lazily (loaded on first use)
 * @param {string[]} [opts.assets] repository-relative files or directories copied as they are
 * @param {(staging: string, outPathOf: (src: string) => string) => void} [opts.finish] writes extra files into the staging tree
 * @returns {{ files: number, outPathOf: (src: string) => string }}
 */
function compileGraph(opts) {
  const out = path.resolve(opts.out);
  const alias = aliases();
  const outPathOf = (src) => path.join(out, path.relative(ROOT, src)).replace(/\.ts$/, '.js');
  const resolveTs = (fromFile, spec) => {
    if (spec.startsWith('@firn/')) {
      opts.checkAlias?.(spec, fromFile);
      const target = alias.get(spec);
      if (!target) throw new Error(`unknown alias ${spec} in ${path.relative(ROOT, fromFile)}`);
      return target;
    }
    if (!spec.startsWith('.')) return undefined; // a package or node: builtin
    const base = path.resolve(path.dirname(fromFile), spec);
    for (const cand of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
      if (fs.existsSync(cand) && fs.statSync(cand).isFile()) return cand;
    }
    throw new Error(`cannot resolve ${spec} from ${path.relative(ROOT, fromFile)}`);
  };
  // Built beside and swapped in whole, so a process running from `out` (whose package imports
  // may load lazily) never sees a half-written tree.
  const staging = `${out}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const stagedPathOf = (src) => path.join(staging, path.relative(out, outPathOf(src)));
  const seen = new Set();
  const queue = [...opts.entries];
  try {
    while (queue.length) {
      const src = queue.pop();
      if (seen.has(src)) continue;
      seen.add(src);
      const staged = stagedPathOf(src);
      fs.mkdirSync(path.dirname(staged), { recursive: true });
      if (!src.endsWith('.ts')) {
        fs.copyFileSync(src, staged);
        continue;
      }
      const { code } = swc.transformFileSync(src, {
        swcrc: false,
        sourceMaps: false,
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          target: 'es2022',
          transform: { legacyDecorator: true, decoratorMetadata: true },
          keepClassNames: true,
        },
        module: { type: 'commonjs', lazy: opts.lazy === true, importInterop: 'swc', strictMode: true },
      });
      const rewritten = code.replace(/require\((["'])([^"']+)\1\)/g, (whole, _q, spec) => {
        const target = resolveTs(src, spec);
        if (!target) return whole;
        queue.push(target);
        return `require(${JSON.stringify(relRequire(outPathOf(src), outPathOf(target)))})`;
      });
      fs.writeFileSync(staged, rewritten);
    }
    for (const a of opts.assets ?? []) fs.cpSync(path.join(ROOT, a), path.join(staging, a), { recursive: true, filter: (f) => !f.endsWith('.ts') });
    opts.finish?.(staging, (src) => path.join(staging, path.relative(out, outPathOf(src))));
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const old = `${out}.old-${process.pid}`;
  if (fs.existsSync(out)) fs.renameSync(out, old);
  fs.renameSync(staging, out);
  fs.rmSync(old, { recursive: true, force: true });
  return { files: seen.size, outPathOf };
}

module.exports = { ROOT, compileGraph };
