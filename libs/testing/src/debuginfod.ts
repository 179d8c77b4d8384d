import { existsSync } from 'node:fs';
import { spawnServer, withPortRetry, sleep } from './child-process';
import { freePort } from './free-port';
import { requireBinary } from './require-binary';

export interface StartDebuginfodOptions {
  /** Directory of ELF files to index (scanned with -F). */
  scanDir: string;
  /** Ready only once this build id is served, the surest sign the scan picked up the caller's file. */
  waitForBuildId?: string;
  readyTimeoutMs?: number;
}

export interface TestDebuginfod {
  /** Base URL, e.g. http://127.0.0.1:41234 (debuginfod itself listens on all interfaces). */
  url: string;
  port: number;
  pid: number;
  /** Holds the sqlite index and log (removed by stop()). */
  tmpDir: string;
  /** Makes debuginfod rescan scanDir (SIGUSR1) and resolves once that pass has finished. */
  rescan(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A debuginfod serving `scanDir`, with its own sqlite index in a temp dir and no upstream. */
export async function startDebuginfod(opts: StartDebuginfodOptions): Promise<TestDebuginfod> {
  const binary = requireBinary('debuginfod');
  return withPortRetry(freePort, async (port) => {
    const base = `http://127.0.0.1:${port}`;
    const proc = await spawnServer({
      name: 'debuginfod',
      command: binary,
      // -t 0: one scan at startup, rescans only on request; -g 0: no grooming; -c 1 keeps it light.
      args: (dir) => ['-F', '-p', String(port), '-d', `${dir}/db.sqlite`, '-t', '0', '-g', '0', '-c', '1', opts.scanDir],
      // Without this a developer's DEBUGINFOD_URLS would make the server federate to the internet.
      env: { DEBUGINFOD_URLS: undefined, DEBUGINFOD_CACHE_PATH: undefined },
      ready: async ({ pid }) => {
        const m = await scanMetrics(base);
        if (!m || !m.idle || m.traversals < 1) return false;
        // Metrics carry thread ids, not the pid: the traverse thread must be one of our child's.
        if (!existsSync(`/proc/${pid}/task/${m.traverseTid}`)) return false;
        if (opts.waitForBuildId === undefined) return true;
        // debuginfod answers GET only (HEAD is a 400).
        const res = await fetch(`${base}/buildid/${opts.waitForBuildId}/debuginfo`);
        await res.body?.cancel();
        return res.status === 200;
      },
      readyTimeoutMs: opts.readyTimeoutMs,
    });
    const rescan = async (timeoutMs = 20_000): Promise<void> => {
      const before = await scanMetrics(base);
      if (!before) throw new Error(`debuginfod on ${base} did not answer /metrics`);
      process.kill(proc.pid, 'SIGUSR1');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const now = await scanMetrics(base);
        if (now && now.idle && now.traversals > before.traversals) return;
        await sleep(100);
      }
      throw new Error(`debuginfod rescan did not finish within ${timeoutMs} ms; log tail:\n${proc.logTail()}`);
    };
    return { url: base, port, pid: proc.pid, tmpDir: proc.tmpDir, rescan, stop: proc.stop };
  });
}

interface ScanMetrics {
  traversals: number;
  traverseTid: number;
  idle: boolean;
}

/** debuginfod's Prometheus text tells whether a traversal pass is complete and scanners are idle. */
async function scanMetrics(base: string): Promise<ScanMetrics | undefined> {
  let text: string;
  try {
    const res = await fetch(`${base}/metrics`);
    if (res.status !== 200) return undefined;
    text = await res.text();
  } catch {
    return undefined;
  }
  const read = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
  return {
    traversals: read('thread_work_total{role="traverse"}'),
    traverseTid: read('thread_tid{role="traverse"}'),
    idle: read('thread_busy{role="traverse"}') === 0 && read('thread_busy{role="scan"}') === 0 && read('thread_work_pending{role="scan"}') === 0,
  };
}
