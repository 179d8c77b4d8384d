import { describe, expect, it } from 'vitest';
import { Readiness } from './readiness';

describe(Readiness.name, () => {
  it('is not ready while starting, ready when running with passing checks, not ready when draining', async () => {
    const r = new Readiness();
    r.addCheck('nats', async () => undefined);
    expect((await r.evaluate()).ready).toBe(false);
    r.markRunning();
    expect(await r.evaluate()).toEqual({ ready: true, state: 'running', checks: { nats: 'ok' } });
    r.markDraining();
    expect(await r.evaluate()).toMatchObject({ ready: false, state: 'draining' });
  });

  it('names failing and hanging checks', async () => {
    const r = new Readiness(50);
    r.addCheck('s3', async () => {
      throw new Error('connection refused');
    });
    r.addCheck('redis', () => new Promise(() => undefined));
    r.markRunning();
    expect(await r.evaluate()).toEqual({ ready: false, state: 'running', checks: { s3: 'connection refused', redis: 'check timed out after 50 ms' } });
  });

  it('refuses a duplicate check name', () => {
    const r = new Readiness();
    r.addCheck('a', async () => undefined);
    expect(() => r.addCheck('a', async () => undefined)).toThrow(/twice/);
  });
});
