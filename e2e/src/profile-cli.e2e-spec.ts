import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Function as PprofFunction, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { makeTokens } from './support/write-path';

const PERIOD = 10_000_000; // 100 Hz, as Go's CPU profiler
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';
const SAMPLES = 'process_cpu:samples:count:cpu:nanoseconds:delta';

/** Stacks root first with their sample counts: what both pushed files hold. */
const STACKS: Array<[string[], number]> = [
  [['main', 'work', 'hot'], 150],
  [['main', 'cold'], 100],
  [['main'], 50],
];
const TOTAL_SAMPLES = 300;

/** Self and cumulative time (ns) per function of STACKS, with names prefixed. */
function expected(prefix: string): Map<string, { flat: number; cum: number }> {
  const out = new Map<string, { flat: number; cum: number }>();
  for (const [stack, n] of STACKS) {
    stack.forEach((fn, i) => {
      const e = out.get(prefix + fn) ?? { flat: 0, cum: 0 };
      e.cum += n * PERIOD;
      if (i === stack.length - 1) e.flat += n * PERIOD;
      out.set(prefix + fn, e);
    });
  }
  return out;
}

/** A Go-style CPU profile (samples/count + cpu/nanoseconds) of STACKS, built with pprof-format. */
function cpuPprof(prefix: string, timeMs: number): Uint8Array {
  const st = new StringTable();
  const names = [...new Set(STACKS.flatMap(([s]) => s))];
  const fns = names.map(
    (n, i) => new PprofFunction({ id: i + 1, name: st.dedup(prefix + n), systemName: st.dedup(prefix + n), filename: st.dedup('main.go') }),
  );
  const mapping = new Mapping({ id: 1, memoryStart: 0x400000, memoryLimit: 0x500000, filename: st.dedup('/usr/bin/shop'), hasFunctions: true });
  const locs = fns.map(
    (f, i) => new Location({ id: i + 1, mappingId: 1, address: 0x401000 + i * 0x100, line: [new Line({ functionId: f.id, line: 10 + i })] }),
  );
  const locOf = (n: string) => names.indexOf(n) + 1;
  return gzipSync(
    new Profile({
      sampleType: [
        new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }),
        new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
      ],
      sample: STACKS.map(([stack, n]) => new Sample({ locationId: [...stack].reverse().map(locOf), value: [n, n * PERIOD] })),
      mapping: [mapping],
      location: locs,
      function: fns,
      stringTable: st,
      periodType: new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
      period: PERIOD,
      timeNanos: BigInt(timeMs) * 1_000_000n,
      durationNanos: 10_000_000_000,
    }).encode(),
  );
}

function folded(prefix: string): string {
  return STACKS.map(([stack, n]) => `${stack.map((f) => prefix + f).join(';')} ${n}`).join('\n') + '\n';
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `go tool pprof`'s scaled values (1.50s, 500ms, 3s) → ns. */
function pprofNs(v: string): number {
  if (v === '0') return 0;
  const m = /^([\d.]+)(ns|us|µs|ms|s|mins|hrs)$/.exec(v);
  if (!m) throw new Error(`not a pprof duration: ${v}`);
  const scale: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, mins: 60e9, hrs: 3600e9 };
  return Math.round(Number(m[1]) * scale[m[2]]);
}

/**
 * The `firn` CLI as a user runs it (its real entry, a child process) against a real all-in-one:
 * push a pprof and a folded file, query them back, export pprof and open it in `go tool pprof`.
 */
describe('firn profile CLI round trip', () => {
  let dir: string;
  let app: RunningApp;
  let token: string;
  const timeMs = Date.now() - 60_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-cli-'));
    token = (await makeTokens(join(dir, 'tokens.json'), ['acme'])).acme;
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
    });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((ok, fail) => {
      const child = spawn(command, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Generous: SWC compiles the CLI on start, on a loaded 2-core machine.
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', fail);
      child.on('exit', (code) => {
        clearTimeout(timer);
        ok({ code, stdout, stderr });
      });
    });
  }

  /** The real `firn` bin (package.json "bin"), with FIRN_URL / FIRN_TOKEN as a user sets them. */
  const firn = (...args: string[]) => run(process.execPath, [resolve(ROOT, 'libs/admin/bin/firn.cjs'), ...args], { FIRN_URL: app.base, FIRN_TOKEN: token });

  /** Queries until the selection's total reaches `total` (ingest is asynchronous). */
  async function queryUntil(selector: string, total: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await firn('query', '--selector', selector, '--from', 'now-1h', '--to', 'now+1m', '--json');
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as { total?: string; top?: Record<string, unknown> };
      if (Number(res.total ?? 0) >= total || Date.now() > deadline) {
        expect(Number(res.total ?? 0)).toBe(total);
        return res;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Runs `go tool pprof -top` on a file: its total and each function's flat and cum (ns). */
  async function goPprofTop(file: string): Promise<{ total: number; rows: Map<string, { flat: number; cum: number }>; out: string }> {
    const r = await run('go', ['tool', 'pprof', '-top', '-nodecount=50', file], { PPROF_TMPDIR: dir, HOME: dir });
    expect(r.code, r.stderr).toBe(0);
    const total = /Showing nodes accounting for \S+, [\d.]+% of (\S+) total/.exec(r.stdout)?.[1];
    expect(total, r.stdout).toBeDefined();
    const rows = new Map<string, { flat: number; cum: number }>();
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\S+)\s+[\d.]+%\s+[\d.]+%\s+(\S+)\s+[\d.]+%\s+(\S+)\s*$/.exec(line);
      if (m) rows.set(m[3], { flat: pprofNs(m[1]), cum: pprofNs(m[2]) });
    }
    return { total: pprofNs(total as string), rows, out: r.stdout };
  }

  it('pushes a pprof, queries its top functions and exports a pprof that go tool pprof reads with the same totals', async () => {
    await writeFile(join(dir, 'cpu.pb.gz'), cpuPprof('shop.', timeMs));
    const pushed = await firn('profile', 'push', 'cpu.pb.gz', '--name', 'shop', '--label', 'env=e2e');
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain(`${CPU}{service_name="shop", env="e2e"}  total 3s`);
    expect(pushed.stdout).toContain(`${SAMPLES}{service_name="shop", env="e2e"}  total 300`);

    const selector = `${CPU}{service_name="shop", env="e2e"}`;
    await queryUntil(selector, TOTAL_SAMPLES * PERIOD);
    const table = await firn('query', '--selector', selector, '--from', 'now-1h', '--to', 'now+1m');
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines).toContain(`total 3s (${TOTAL_SAMPLES * PERIOD} nanoseconds), top 4 of 4 functions`);
    expect(lines.find((l) => l.endsWith('shop.hot'))).toMatch(/^\s*1\.5s\s+50\.00%\s+50\.00%\s+1\.5s\s+50\.00%\s+shop\.hot$/);
    expect(lines.find((l) => l.endsWith('shop.main'))).toMatch(/^\s*500ms\s+16\.67%\s+100\.00%\s+3s\s+100\.00%\s+shop\.main$/);
    const samples = await queryUntil(`${SAMPLES}{service_name="shop"}`, TOTAL_SAMPLES);
    expect(samples.top).toMatchObject({ unit: 'count' });

    const exported = await firn('export', 'pprof', '--selector', selector, '--from', 'now-1h', '--to', 'now+1m', '-o', 'shop.pb.gz');
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^wrote shop\.pb\.gz \(\d+ bytes\): .*total 3s$/m);
    const top = await goPprofTop(join(dir, 'shop.pb.gz'));
    expect(top.total).toBe(TOTAL_SAMPLES * PERIOD);
    expect(top.rows).toEqual(expected('shop.'));
  }, 300_000);

  it('pushes folded text (gzip) with labels and a time range, and it round-trips the same way', async () => {
    await writeFile(join(dir, 'billing.folded.gz'), gzipSync(folded('billing.')));
    const pushed = await firn('profile', 'push', 'billing.folded.gz', '--name', 'billing', '--label', 'region=eu', '--from', 'now-2m', '--until', 'now-1m');
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/^pushed billing\.folded\.gz \(folded, \d+ bytes, 3 stacks\)/);
    expect(pushed.stdout).toContain(`${CPU}{region="eu", service_name="billing"}  total 3s`);

    const selector = `${CPU}{service_name="billing", region="eu"}`;
    const res = await queryUntil(selector, TOTAL_SAMPLES * PERIOD);
    const list = (res.top as { list: Array<{ meta: { function: { name: string } }; flat: string; cumulative: string }> }).list;
    expect(new Map(list.map((n) => [n.meta.function.name, { flat: Number(n.flat ?? 0), cum: Number(n.cumulative ?? 0) }]))).toEqual(expected('billing.'));

    const exported = await firn('export', 'pprof', '--selector', selector, '-o', join(dir, 'billing.pb.gz'), '--from', 'now-1h', '--to', 'now');
    expect(exported.code, exported.stderr).toBe(0);
    const top = await goPprofTop(join(dir, 'billing.pb.gz'));
    expect(top.total).toBe(TOTAL_SAMPLES * PERIOD);
    expect(top.rows).toEqual(expected('billing.'));
    // The export is exactly the selection: nothing of the pprof pushed to another service.
    expect(top.out).not.toContain('shop.');
  }, 300_000);

  it('lists the profile types, and says clearly what is wrong with a bad token or an unknown profile type', async () => {
    const types = await firn('profile-types');
    expect(types.code, types.stderr).toBe(0);
    expect(types.stdout.split('\n')).toEqual(expect.arrayContaining([CPU, SAMPLES]));

    const badToken = await run(process.execPath, [resolve(ROOT, 'libs/admin/bin/firn.cjs'), 'query', '--selector', `${CPU}{}`], {
      FIRN_URL: app.base,
      FIRN_TOKEN: 'firn_nope_nope',
    });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/authentication failed: .*(invalid|token).*check --token/);

    const unknown = await firn('query', '--selector', 'nosuch:cpu:nanoseconds:cpu:nanoseconds{}');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error invalid_argument: unknown profile type nosuch:cpu:nanoseconds:cpu:nanoseconds; this tenant has: .*process_cpu/);

    const usage = await firn('profile', 'push', 'missing.pb.gz');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/cannot read missing\.pb\.gz/);

    const help = await firn('export', 'pprof', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: firn export pprof/);
  }, 300_000);
});
