import { describe, expect, it } from 'vitest';
import { batchTotal, stackKey, type SampleBatch } from '@firn/profiles';
import { FLEET_BINARIES, FLEET_FUNCTIONS, FLEET_STACKS, MAX_DEPTH, MIN_DEPTH, fleetCatalog } from './catalog';
import {
  DEFAULT_START_MS,
  FLEET_PERIOD_NS,
  FLEET_PROFILE_TYPE,
  SAMPLES_PER_AGENT_HOUR,
  fleetAgent,
  fleetSampleCount,
  fleetWindow,
  fleetWindows,
  samplesPerAgentWindow,
} from './fleet-1h';

function collect(opts: Parameters<typeof fleetWindows>[0]): SampleBatch[] {
  return [...fleetWindows(opts)].map((w) => w.batch);
}

describe('fleetWindows', () => {
  it('generates the same data for the same seed and different data for another', () => {
    const a = collect({ seed: 7, agents: 3, windows: 2 });
    const b = collect({ seed: 7, agents: 3, windows: 2 });
    const c = collect({ seed: 8, agents: 3, windows: 2 });
    expect(a).toHaveLength(6);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('generates any slice the same as the full sequence does', () => {
    const all = [...fleetWindows({ agents: 4, windows: 3 })];
    const picked = all.find((w) => w.agent === 2 && w.window === 1);
    expect(picked).toBeDefined();
    expect(fleetWindow(fleetAgent(2), 1)).toEqual(picked?.batch);
    expect(all.map((w) => `${w.agent}/${w.window}`).slice(0, 5)).toEqual(['0/0', '1/0', '2/0', '3/0', '0/1']);
  });

  it('takes 136 800 samples per agent per hour (19 Hz × 2 CPUs) and 13.68 M for the fleet', () => {
    expect(SAMPLES_PER_AGENT_HOUR).toBe(136_800);
    expect(fleetSampleCount()).toBe(13_680_000);
    let total = 0;
    let windows = 0;
    for (const { batch } of fleetWindows({ agents: 1, hours: 1 })) {
      expect(batchTotal(batch)).toBe(samplesPerAgentWindow());
      total += batchTotal(batch);
      windows++;
    }
    expect(windows).toBe(360);
    expect(total).toBe(136_800);
  });

  it('aggregates each window to (series, stack) rows with jittered timestamps inside the window', () => {
    const window = 5;
    const batch = fleetWindow(fleetAgent(9), window);
    const start = DEFAULT_START_MS + window * 10_000;
    const keys = new Set<string>();
    expect(batch.profileTypes).toEqual([FLEET_PROFILE_TYPE]);
    for (let i = 0; i < batch.length; i++) {
      keys.add(`${batch.seriesIdx[i]}:${batch.stack[i]}`);
      expect(batch.timestampMs[i]).toBeGreaterThanOrEqual(start);
      expect(batch.timestampMs[i]).toBeLessThan(start + 10_000);
      expect(batch.durationNs[i]).toBe(10e9);
      expect(batch.periodNs[i]).toBe(FLEET_PERIOD_NS);
    }
    expect(keys.size).toBe(batch.length);
    expect(new Set(batch.timestampMs).size).toBeGreaterThan(1);
    // Aggregation makes rows fewer than samples.
    expect(batch.length).toBeLessThan(samplesPerAgentWindow());
  });

  it('labels series as the agent does: node, namespace, pod, container', () => {
    const agents = Array.from({ length: 100 }, (_, a) => fleetAgent(a));
    expect(agents[0].node).toBe('node-000');
    expect(agents[99].node).toBe('node-099');
    const namespaces = new Set<string>();
    for (const agent of agents) {
      expect(agent.pods).toHaveLength(8);
      for (const pod of agent.pods) {
        expect(pod.labels.map(([n]) => n)).toEqual(['container', 'namespace', 'node', 'pod']);
        expect(pod.pod).toMatch(new RegExp(`^${pod.deployment}-[a-z0-9]{10}-[a-z0-9]{5}$`));
        namespaces.add(pod.namespace);
      }
    }
    expect([...namespaces].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `ns-${i}`));
  });

  it('lets a few stacks dominate a pod (Zipf)', () => {
    const perStack = new Map<number, number>();
    let total = 0;
    for (const { batch } of fleetWindows({ agents: 1, windows: 60 })) {
      const series0 = batch.series.findIndex((s) => s.some(([n, v]) => n === 'pod' && v === fleetAgent(0).pods[0].pod));
      for (let i = 0; i < batch.length; i++) {
        if (batch.seriesIdx[i] !== series0) continue;
        const id = fleetCatalog(1).stacks.indexOf(batch.stacks[batch.stack[i]]);
        perStack.set(id, (perStack.get(id) ?? 0) + batch.value[i]);
        total += batch.value[i];
      }
    }
    const top = [...perStack.values()].sort((x, y) => y - x);
    expect(total).toBeGreaterThan(0);
    // Zipf(1.1) over ~625 stacks puts ~19% on the first rank and ~50% on the first ten.
    expect(top[0] / total).toBeGreaterThan(0.1);
    expect(top.slice(0, 10).reduce((x, y) => x + y, 0) / total).toBeGreaterThan(0.35);
  });
});

describe('fleetCatalog', () => {
  it('has 40 binaries, 5 000 functions and 20 000 distinct stacks of depth 8-64 (median ~24)', () => {
    const cat = fleetCatalog(1);
    expect(cat.binaries).toHaveLength(FLEET_BINARIES);
    expect(new Set(cat.binaries.map((b) => b.buildId)).size).toBe(40);
    expect(new Set(cat.binaries.map((b) => b.path)).size).toBe(40);
    expect(cat.binaries.every((b) => /^[0-9a-f]{40}$/.test(b.buildId))).toBe(true);
    expect(cat.functions).toHaveLength(FLEET_FUNCTIONS);
    expect(cat.stacks).toHaveLength(FLEET_STACKS);
    expect(new Set(cat.stacks.map((s) => stackKey(s))).size).toBe(FLEET_STACKS);
    const depths = cat.stacks.map((s) => s.length).sort((a, b) => a - b);
    expect(depths[0]).toBeGreaterThanOrEqual(MIN_DEPTH);
    expect(depths[depths.length - 1]).toBeLessThanOrEqual(MAX_DEPTH);
    const median = depths[depths.length >> 1];
    expect(median).toBeGreaterThanOrEqual(22);
    expect(median).toBeLessThanOrEqual(26);
  });

  it('builds stacks that share prefixes like a call tree (few roots, far fewer frames than frame slots)', () => {
    const cat = fleetCatalog(1);
    const roots = new Set(cat.stacks.map((s) => s[s.length - 1]));
    const frames = new Set(cat.stacks.flat());
    const slots = cat.stacks.reduce((n, s) => n + s.length, 0);
    // Two thread roots per app binary.
    expect(roots.size).toBeLessThanOrEqual(2 * 32);
    expect(frames.size).toBeLessThan(slots / 10);
    const prefixes = new Set(
      cat.stacks.map((s) =>
        s
          .slice(-6)
          .map((f) => `${f.mappingFile}@${f.address}`)
          .join('>'),
      ),
    );
    expect(prefixes.size).toBeLessThan(cat.stacks.length / 5);
  });

  it('emits address-only frames like the agent unless asked to symbolize', () => {
    const bare = fleetCatalog(1).stacks[0];
    expect(bare.every((f) => f.functionName === '' && f.fileName === '' && f.line === 0 && f.buildId !== '' && f.address > 0n)).toBe(true);
    const named = fleetCatalog(1, true).stacks[0];
    expect(named.every((f) => f.functionName !== '' && f.line > 0)).toBe(true);
    expect(named.map((f) => f.address)).toEqual(bare.map((f) => f.address));
  });
});
