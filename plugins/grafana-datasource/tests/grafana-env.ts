/**
 * What Grafana's packages expect from a browser and jsdom lacks, for tests that import
 * @grafana/data / @grafana/runtime (the same gaps @grafana/create-plugin's jest setup fills).
 * Import it first, in files that run under `// @vitest-environment jsdom`.
 */
import Module from 'node:module';

Object.defineProperty(globalThis, 'matchMedia', {
  writable: true,
  value: (media: string) => ({
    matches: false,
    media,
    onchange: null,
    addListener() {},
    removeListener() {},
    addEventListener() {},
    removeEventListener() {},
    dispatchEvent: () => false,
  }),
});
HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];

// @grafana/runtime 10.4's CommonJS build requires 'systemjs/dist/system' without an extension,
// which systemjs' "exports" map only serves with one (jest resolves it, Node does not).
type Resolve = (request: string, ...rest: unknown[]) => string;
const loader = Module as unknown as { _resolveFilename: Resolve };
const resolveFilename = loader._resolveFilename;
loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return resolveFilename.call(this, /^systemjs\/dist\/(system|extras\/amd)$/.test(request) ? `${request}.js` : request, ...rest);
};
