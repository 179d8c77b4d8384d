import { buildFlame, type Flame } from './flame';

interface TrieNode {
  name: number;
  total: number;
  self: number;
  binary: number;
  file: number;
  line: number;
  children: Map<number, TrieNode>;
}

function trieNode(name: number, binary = 0, file = 0, line = 0): TrieNode {
  return { name, total: 0, self: 0, binary, file, line, children: new Map() };
}

function fromTrie(root: TrieNode, src: Flame): Flame {
  const parent: number[] = [];
  const total: number[] = [];
  const self: number[] = [];
  const name: number[] = [];
  const binary: number[] = [];
  const file: number[] = [];
  const line: number[] = [];
  const queue: Array<[TrieNode, number]> = [[root, -1]];
  for (let q = 0; q < queue.length; q++) {
    const [t, p] = queue[q];
    const idx = parent.length;
    parent.push(p);
    total.push(t.total);
    self.push(t.self);
    name.push(t.name);
    binary.push(t.binary);
    file.push(t.file);
    line.push(t.line);
    const kids = [...t.children.values()].sort((a, b) => b.total - a.total);
    for (const c of kids) queue.push([c, idx]);
  }
  return buildFlame({
    parent,
    total,
    self,
    name,
    names: src.names,
    binary,
    binaries: src.binaries,
    file,
    files: src.files,
    line,
    unit: src.unit,
    profileTotal: root.total,
  });
}

/**
 * The sandwich of one function: its callers (paths from each outermost call up to the root,
 * leaf-first, so the function is the root of the callers graph) and its callees (the merged
 * subtrees below each outermost call). Recursive calls are counted once, at the outermost.
 */
export function sandwich(f: Flame, nameIdx: number): { callers: Flame; callees: Flame } | undefined {
  const outer: number[] = [];
  for (let i = 1; i < f.n; i++) {
    if (f.name[i] !== nameIdx) continue;
    let nested = false;
    for (let p = f.parent[i]; p > 0; p = f.parent[p]) if (f.name[p] === nameIdx) nested = true;
    if (!nested) outer.push(i);
  }
  if (outer.length === 0) return undefined;
  const calleesRoot = trieNode(nameIdx, f.binary[outer[0]], f.file[outer[0]], f.line[outer[0]]);
  const callersRoot = trieNode(nameIdx, f.binary[outer[0]], f.file[outer[0]], f.line[outer[0]]);
  const mapped = new Map<number, TrieNode>();
  for (const o of outer) {
    calleesRoot.total += f.total[o];
    calleesRoot.self += f.self[o];
    mapped.set(o, calleesRoot);
    // callers: o's ancestors, nearest first
    callersRoot.total += f.total[o];
    let t = callersRoot;
    let p = f.parent[o];
    if (p <= 0) t.self += f.total[o];
    for (; p > 0; p = f.parent[p]) {
      let c = t.children.get(f.name[p]);
      if (!c) t.children.set(f.name[p], (c = trieNode(f.name[p], f.binary[p], f.file[p], f.line[p])));
      c.total += f.total[o];
      if (f.parent[p] <= 0) c.self += f.total[o];
      t = c;
    }
  }
  // callees: every node under an outer call, in breadth-first order (parents are mapped first)
  const lo = Math.min(...outer);
  for (let i = lo + 1; i < f.n; i++) {
    const pt = mapped.get(f.parent[i]);
    if (!pt) continue;
    let c = pt.children.get(f.name[i]);
    if (!c) pt.children.set(f.name[i], (c = trieNode(f.name[i], f.binary[i], f.file[i], f.line[i])));
    c.total += f.total[i];
    c.self += f.self[i];
    mapped.set(i, c);
  }
  return { callers: fromTrie(callersRoot, f), callees: fromTrie(calleesRoot, f) };
}
