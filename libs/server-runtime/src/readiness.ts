/**
 * Readiness = "send me traffic". A process is ready only when it has started, is not draining,
 * and every dependency check (NATS, object storage, Redis, ...) passes. Liveness (/healthz) is
 * separate: it only says the event loop answers.
 */
export type Check = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  state: 'starting' | 'running' | 'draining';
  checks: Record<string, 'ok' | string>;
}

export class Readiness {
  private readonly checks = new Map<string, Check>();
  private state: ReadinessReport['state'] = 'starting';

  constructor(private readonly checkTimeoutMs = 2000) {}

  addCheck(name: string, check: Check): void {
    if (this.checks.has(name)) throw new Error(`readiness check ${name} registered twice`);
    this.checks.set(name, check);
  }

  markRunning(): void {
    if (this.state === 'starting') this.state = 'running';
  }

  markDraining(): void {
    this.state = 'draining';
  }

  get current(): ReadinessReport['state'] {
    return this.state;
  }

  async evaluate(): Promise<ReadinessReport> {
    const checks: ReadinessReport['checks'] = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        checks[name] = await withTimeout(check(), this.checkTimeoutMs).then(
          () => 'ok',
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        );
      }),
    );
    const allOk = Object.values(checks).every((v) => v === 'ok');
    return { ready: this.state === 'running' && allOk, state: this.state, checks };
  }
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`check timed out after ${ms} ms`)), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}
