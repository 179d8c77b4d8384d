import { spawn } from 'node:child_process';
import { ErrorCode, FirnError } from '@firn/errors';

export interface RunToolOptions {
  stdin: string;
  env: Record<string, string>;
  signal: AbortSignal;
  /** Output beyond this means something is wrong with the input; the child is killed. */
  maxOutputBytes: number;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Maps an aborted signal's reason to the error the caller sees. */
export function abortError(signal: AbortSignal): FirnError {
  const r: unknown = signal.reason;
  if (r instanceof FirnError) return r;
  return new FirnError(ErrorCode.Canceled, 'symbolization canceled', { cause: r });
}

/**
 * Runs one short-lived tool process, feeding `stdin` and collecting its output. The child is
 * SIGKILLed when the signal aborts (timeout or caller cancel) or its output passes the cap, so
 * a pathological input file can cost at most the deadline, never a hung worker.
 */
export function runTool(command: string, args: string[], opts: RunToolOptions): Promise<ToolResult> {
  return new Promise<ToolResult>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(abortError(opts.signal));
      return;
    }
    const child = spawn(command, args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let failure: FirnError | undefined;
    const kill = (why: FirnError): void => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => kill(abortError(opts.signal));
    opts.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > opts.maxOutputBytes) {
        kill(new FirnError(ErrorCode.ResourceExhausted, `${command} wrote more than ${opts.maxOutputBytes} bytes`));
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      // Keep only the start: the first lines name the problem.
      if (errBytes < 64 * 1024) err.push(b);
      errBytes += b.length;
    });
    // The child may exit (bad file) before reading all addresses: EPIPE is not our failure.
    child.stdin.on('error', () => undefined);
    child.once('error', (e: NodeJS.ErrnoException) => {
      opts.signal.removeEventListener('abort', onAbort);
      const msg =
        e.code === 'ENOENT' ? `${command} not found (install elfutils/binutils: scripts/install-system-deps.sh)` : `cannot run ${command}: ${e.message}`;
      reject(failure ?? FirnError.unavailable(msg, e));
    });
    child.once('close', (code) => {
      opts.signal.removeEventListener('abort', onAbort);
      if (failure) {
        reject(failure);
        return;
      }
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code });
    });
    child.stdin.end(opts.stdin);
  });
}
