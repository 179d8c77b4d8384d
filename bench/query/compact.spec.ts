import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LEVELS } from '@firn/compaction';
import { compactorConfig, compactorOptionsFrom } from '@firn/compactor';
import { loadConfig } from '@firn/config';
import { blocksDir, compactorEnv, jobsOfLog, prepareBlocksDir, type CompactionFacts } from './compact';

const levelsOf = (level: number) => compactorOptionsFrom(loadConfig(compactorConfig, { env: compactorEnv(level) })).levels;

describe(compactorEnv.name, () => {
  it('leaves the levels at the defaults for L2', () => {
    expect(levelsOf(2)).toEqual(DEFAULT_LEVELS);
  });

  it('keeps the default L1 but puts every L2 trigger out of reach for L1', () => {
    const [l1, l2] = levelsOf(1);
    expect(l1).toEqual(DEFAULT_LEVELS[0]);
    expect(l2.minSegments).toBeGreaterThan(1e9);
    expect(l2.minBytes).toBeGreaterThan(1e15);
    // The fleet slice starts in 2026: its hour must not settle before a century has passed.
    expect(Date.UTC(2026, 0, 1) + l2.windowMs + l2.settleMs).toBeGreaterThan(Date.UTC(2126, 0, 1));
  });
});

describe(jobsOfLog.name, () => {
  it('reads the compactor’s "block published" lines and skips the rest', () => {
    // As pino writes it: its own numeric level first, then the job's fields (a later "level" wins).
    const line =
      '{"level":30,"time":1,"pid":7,"tenant":"t","level":2,"window":"2026-01-01T00:00:00.000Z","inputs":128,"reason":"age","block":"b","seconds":44.2,' +
      '"bytesIn":90000000,"bytesOut":4000000,"rowsIn":2000000,"rowsOut":2000000,"msg":"block published"}';
    const text = ['(node:1) a warning', '{"level":30,"msg":"compactor started"}', line, '{"msg":"block published" (cut'].join('\n');
    expect(jobsOfLog(text)).toEqual([
      { level: 2, window: '2026-01-01T00:00:00.000Z', inputs: 128, reason: 'age', seconds: 44.2, rowsIn: 2e6, rowsOut: 2e6, bytesIn: 90e6, bytesOut: 4e6 },
    ]);
  });
});

describe(prepareBlocksDir.name, () => {
  let work: string | undefined;
  afterEach(() => work && rmSync(work, { recursive: true, force: true }));

  function kept(): string {
    work = mkdtempSync(join(tmpdir(), 'firn-bench-compact-'));
    for (const d of ['data/objects', 'nats/jetstream']) mkdirSync(join(work, d), { recursive: true });
    writeFileSync(join(work, 'data/objects/x'), 'segment');
    writeFileSync(join(work, 'fleet.json'), '{}');
    return work;
  }

  it('copies the level-0 dataset, recopies an unfinished one, and reuses a finished one', () => {
    const w = kept();
    const dir = blocksDir(w, 2);
    const logs: string[] = [];
    expect(prepareBlocksDir(w, dir, (m) => logs.push(m))).toBeUndefined();
    expect(readFileSync(join(dir, 'data/objects/x'), 'utf8')).toBe('segment');
    expect(existsSync(join(dir, 'nats/jetstream'))).toBe(true);

    writeFileSync(join(dir, 'data/objects/half-written'), '');
    expect(prepareBlocksDir(w, dir, (m) => logs.push(m))).toBeUndefined();
    expect(existsSync(join(dir, 'data/objects/half-written'))).toBe(false);
    expect(logs.some((m) => m.includes('unfinished'))).toBe(true);

    const facts = { level: 2, jobs: [] } as unknown as CompactionFacts;
    writeFileSync(join(dir, 'blocks.json'), JSON.stringify(facts));
    writeFileSync(join(dir, 'data/objects/block'), 'block');
    expect(prepareBlocksDir(w, dir, () => undefined)).toEqual(facts);
    expect(existsSync(join(dir, 'data/objects/block'))).toBe(true);
  });
});
