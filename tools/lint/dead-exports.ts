// Lists what a library's public API (its `src/index.ts`, behind an `@firn/*` alias) exports that
// no file outside that library imports: candidates to drop from the index (and, when nothing
// inside uses them either, to delete). Tests of other projects count as users; a library's own
// tests do not (they import files, not the index).
// Usage: node scripts/run-ts.cjs tools/lint/dead-exports.ts [--json | --fix] [--except @firn/a,@firn/b]
// --fix removes them from the index files (`export * from` becomes an explicit list); code that
// nothing uses, not even a test, is left to delete by hand (marked "unused anywhere").
// --except leaves the named libraries alone.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');
const SCAN = ['apps', 'libs', 'e2e', 'bench', 'scripts', 'tools', 'charts', 'plugins'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'tmp', '.git', 'gen']);

export interface LibraryApi {
  alias: string;
  /** The project's directory (the one holding project.json), relative to the root. */
  dir: string;
  index: string;
}

export interface DeadExport {
  alias: string;
  name: string;
  /** Where the exported declaration lives, relative to the root. */
  file: string;
  /** Also unused inside its own library (tests aside): the code itself is dead. */
  unusedInside: boolean;
  /** Not even a test mentions it: delete the code. */
  unusedAnywhere: boolean;
}

/** `@firn/*` aliases of tsconfig.base.json that point at a project's `src/index.ts`. */
export function libraries(): LibraryApi[] {
  const base = ts.parseConfigFileTextToJson('tsconfig.base.json', readFileSync(join(ROOT, 'tsconfig.base.json'), 'utf8')).config as {
    compilerOptions: { paths: Record<string, string[]> };
  };
  const out: LibraryApi[] = [];
  for (const [alias, [target]] of Object.entries(base.compilerOptions.paths)) {
    if (!alias.startsWith('@firn/') || !target.endsWith('/src/index.ts')) continue;
    out.push({ alias, dir: dirname(dirname(target)), index: target });
  }
  return out;
}

function sourceFiles(dir: string, acc: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, acc);
    else if (/\.(ts|tsx|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) acc.push(p);
  }
  return acc;
}

const isTest = (file: string) => /\.(spec|int-spec|e2e-spec)\.tsx?$/.test(file);

/** Names each file imports or re-exports from `@firn/*` aliases; `*` = the whole module. */
function importsOf(file: string): Map<string, Set<string>> {
  const text = readFileSync(file, 'utf8');
  const out = new Map<string, Set<string>>();
  if (!text.includes('@firn/')) return out;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const use = (spec: string, name: string) => {
    if (!spec.startsWith('@firn/')) return;
    let s = out.get(spec);
    if (!s) out.set(spec, (s = new Set()));
    s.add(name);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      const clause = node.importClause;
      if (!clause) use(spec, '*');
      else {
        if (clause.name) use(spec, 'default');
        const b = clause.namedBindings;
        if (b && ts.isNamespaceImport(b)) use(spec, '*');
        else if (b) for (const el of b.elements) use(spec, (el.propertyName ?? el.name).text);
      }
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (!node.exportClause || ts.isNamespaceExport(node.exportClause)) use(spec, '*');
      else for (const el of node.exportClause.elements) use(spec, (el.propertyName ?? el.name).text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const q = node.qualifier;
      use(node.argument.literal.text, q ? (ts.isIdentifier(q) ? q.text : q.left.getText()) : '*');
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) use(arg.text, '*');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

interface Analysis {
  dead: DeadExport[];
  program: ts.Program;
  checker: ts.TypeChecker;
}

export function deadExports(): DeadExport[] {
  return analyse().dead;
}

function analyse(): Analysis {
  const libs = libraries();
  const files = SCAN.flatMap((d) => sourceFiles(join(ROOT, d)));
  const program = ts.createProgram(
    libs.map((l) => join(ROOT, l.index)),
    {
      ...ts.convertCompilerOptionsFromJson(ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), ts.sys.readFile).config.compilerOptions, ROOT).options,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const libOf = (file: string) => libs.find((l) => relative(join(ROOT, l.dir), file).split(sep)[0] !== '..');
  // alias -> names used from outside / inside (non-test) the library
  const outside = new Map<string, Set<string>>();
  const inside = new Map<string, Set<string>>();
  for (const f of files) {
    const owner = libOf(f);
    for (const [spec, names] of importsOf(f)) {
      const into = owner?.alias === spec ? (isTest(f) ? undefined : inside) : outside;
      if (!into) continue;
      let s = into.get(spec);
      if (!s) into.set(spec, (s = new Set()));
      for (const n of names) s.add(n);
    }
  }
  const dead: DeadExport[] = [];
  for (const lib of libs) {
    const used = outside.get(lib.alias) ?? new Set<string>();
    if (used.has('*')) continue;
    const sf = program.getSourceFile(join(ROOT, lib.index));
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) continue;
    for (const sym of checker.getExportsOfModule(mod)) {
      const name = sym.getName();
      if (used.has(name)) continue;
      const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
      const decl = target.declarations?.[0];
      const file = decl ? relative(ROOT, decl.getSourceFile().fileName) : lib.index;
      const unusedInside = !isMentioned(lib.dir, file, name, files, false) && !(inside.get(lib.alias)?.has(name) ?? false);
      dead.push({ alias: lib.alias, name, file, unusedInside, unusedAnywhere: unusedInside && !isMentioned('.', file, name, files, true) });
    }
  }
  return { dead, program, checker };
}

const INDEXES = new Set(libraries().map((l) => join(ROOT, l.index)));

/** Whether a file under `dir` (tests only if asked; no index file) mentions `name` besides its declaration. */
function isMentioned(dir: string, declFile: string, name: string, files: string[], tests: boolean): boolean {
  const re = new RegExp(`\\b${name.replace(/[$]/g, '\\$')}\\b`);
  const under = join(ROOT, dir);
  for (const f of files) {
    if (relative(under, f).split(sep)[0] === '..' || (isTest(f) && !tests) || INDEXES.has(f)) continue;
    const text = readFileSync(f, 'utf8');
    if (f === join(ROOT, declFile)) {
      // The declaring file: used if it is mentioned more often than it is declared.
      if ((text.match(new RegExp(re.source, 'g')) ?? []).length > 1) return true;
    } else if (re.test(text)) return true;
  }
  return false;
}

/** Removes the dead names from every index file; returns the files changed. */
function fix({ dead, program, checker }: Analysis, except: ReadonlySet<string>): string[] {
  const changed: string[] = [];
  for (const lib of libraries()) {
    if (except.has(lib.alias)) continue;
    const gone = new Set(dead.filter((d) => d.alias === lib.alias).map((d) => d.name));
    if (gone.size === 0) continue;
    const path = join(ROOT, lib.index);
    const sf = program.getSourceFile(path);
    if (!sf) continue;
    const text = sf.getFullText();
    const edits: Array<{ start: number; end: number; text: string }> = [];
    for (const st of sf.statements) {
      if (!ts.isExportDeclaration(st) || !st.moduleSpecifier) continue;
      const from = st.moduleSpecifier.getText(sf);
      const multiLine = st.getText(sf).includes('\n');
      const prefix = st.isTypeOnly ? 'export type' : 'export';
      let elements: string[];
      if (!st.exportClause) {
        // `export * from`: list what it exports, less the dead names.
        const target = checker.getSymbolAtLocation(st.moduleSpecifier);
        if (!target) continue;
        const names = checker.getExportsOfModule(target);
        if (!names.some((n) => gone.has(n.getName()))) continue;
        elements = names
          .filter((n) => !gone.has(n.getName()))
          .map((n) => {
            const t = n.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(n) : n;
            return t.flags & ts.SymbolFlags.Value ? n.getName() : `type ${n.getName()}`;
          });
      } else if (ts.isNamedExports(st.exportClause)) {
        if (!st.exportClause.elements.some((el) => gone.has(el.name.text))) continue;
        elements = st.exportClause.elements.filter((el) => !gone.has(el.name.text)).map((el) => el.getText(sf));
      } else continue;
      let start = st.getStart(sf);
      let end = st.getEnd();
      let replacement: string;
      if (elements.length === 0) {
        // The statement goes with the comment lines above it.
        replacement = '';
        const comments = ts.getLeadingCommentRanges(text, st.getFullStart()) ?? [];
        if (comments.length > 0) start = text.lastIndexOf('\n', comments[0].pos) + 1;
        if (text[end] === '\n') end += 1;
      } else if (multiLine || elements.length > 12) {
        replacement = `${prefix} {\n${elements.map((e) => `  ${e},\n`).join('')}} from ${from};`;
      } else {
        replacement = `${prefix} { ${elements.join(', ')} } from ${from};`;
      }
      edits.push({ start, end, text: replacement });
    }
    if (edits.length === 0) continue;
    let next = text;
    for (const e of edits.sort((a, b) => b.start - a.start)) next = next.slice(0, e.start) + e.text + next.slice(e.end);
    writeFileSync(path, next);
    changed.push(lib.index);
  }
  return changed;
}

if (process.argv[1] === __filename) {
  const at = process.argv.indexOf('--except');
  const except = new Set(at > 0 ? (process.argv[at + 1] ?? '').split(',') : []);
  const analysis = analyse();
  analysis.dead = analysis.dead.filter((d) => !except.has(d.alias));
  if (process.argv.includes('--json')) console.log(JSON.stringify(analysis.dead, null, 2));
  else
    for (const d of analysis.dead) {
      const note = d.unusedAnywhere ? '\tunused anywhere' : d.unusedInside ? '\tused only by its own tests' : '';
      console.log(`${d.alias}\t${d.name}\t${d.file}${note}`);
    }
  if (process.argv.includes('--fix')) {
    // A re-export that goes can leave its source's export without users: repeat until none is left.
    for (let changed = fix(analysis, except); changed.length > 0;) {
      for (const f of changed) console.log(`fixed: ${f}`);
      const again = analyse();
      again.dead = again.dead.filter((d) => !except.has(d.alias));
      changed = fix(again, except);
    }
  }
}
