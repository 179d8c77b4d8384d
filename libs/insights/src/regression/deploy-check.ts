import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '@firn/config';
import { FirnError } from '@firn/errors';
import { tenantIdSchema, type TenantId } from '@firn/tenancy';

/** One scheduled check: after a new value of `label` appears (a deploy), compare it with the previous one. */
export interface DeployCheck {
  tenant: TenantId;
  name: string;
  /** Selector of the service's profiles, e.g. `parca_agent:samples:count:cpu:nanoseconds:delta{service="api"}`. */
  query: string;
  /** The label whose new value marks a deploy, e.g. `version`. */
  label: string;
  webhook: string;
  /** Length of each side compared. */
  windowMs: number;
  /** How long after the new value first appeared to wait before comparing. */
  settleMs: number;
}

/** A duration with its unit (the one parser of `@firn/config`; a bare number here is refused, not read as ms). */
function ms(v: string, field: string): number {
  try {
    if (!/^\d+$/.test(v.trim())) return parseDuration(v);
  } catch {
    // fall through to the error naming the field
  }
  throw FirnError.invalidArgument(`${field}: ${JSON.stringify(v)} is not a duration like 30m or 1h`);
}

const fileSchema = z
  .object({
    checks: z.array(
      z
        .object({
          tenant: tenantIdSchema,
          name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _'),
          query: z.string().min(1),
          label: z.string().min(1),
          webhook: z.string().url(),
          window: z.string().default('30m'),
          settle: z.string().default('10m'),
        })
        .strict(),
    ),
  })
  .strict();

/** Parses a deploy checks file (YAML/JSON); invalid_argument naming the bad key. */
export function parseDeployChecks(text: string, file: string): DeployCheck[] {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? { checks: [] };
  } catch (err) {
    throw FirnError.invalidArgument(`deploy checks file ${file} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw FirnError.invalidArgument(`deploy checks file ${file}: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  const seen = new Set<string>();
  return r.data.checks.map((c, i) => {
    const key = `${c.tenant}.${c.name}`;
    if (seen.has(key)) throw FirnError.invalidArgument(`deploy checks file ${file}: checks.${i}: tenant ${c.tenant} has two checks named ${c.name}`);
    seen.add(key);
    return {
      tenant: c.tenant,
      name: c.name,
      query: c.query,
      label: c.label,
      webhook: c.webhook,
      windowMs: ms(c.window, `checks.${i}.window`),
      settleMs: ms(c.settle, `checks.${i}.settle`),
    };
  });
}

/** When each value of the label was seen (from segment label summaries and time ranges). */
export interface Sighting {
  firstMs: number;
  lastMs: number;
}

/**
 * First and last time each value of `label` occurs, from segments' label summaries. A segment
 * whose summary is truncated tells nothing about which values it holds and is skipped.
 */
export function labelSightings(
  segments: ReadonlyArray<{ minMs: number; maxMs: number; labels: ReadonlyArray<{ name: string; values: readonly string[]; truncated: boolean }> }>,
  label: string,
): Map<string, Sighting> {
  const out = new Map<string, Sighting>();
  for (const s of segments) {
    const summary = s.labels.find((l) => l.name === label);
    if (!summary || summary.truncated) continue;
    for (const v of summary.values) {
      const cur = out.get(v);
      if (!cur) out.set(v, { firstMs: s.minMs, lastMs: s.maxMs });
      else {
        cur.firstMs = Math.min(cur.firstMs, s.minMs);
        cur.lastMs = Math.max(cur.lastMs, s.maxMs);
      }
    }
  }
  return out;
}

export interface DeployComparison {
  baseline: { value: string; startMs: number; endMs: number };
  target: { value: string; startMs: number; endMs: number };
}

/**
 * The latest deploy worth reporting: the value seen first most recently is the new one; the value
 * seen first before it is the previous one. Ready once the new value has run for `settle`; the
 * target is its first `window` (as far as it ran), the baseline the previous value's last
 * `window` before the deploy. Undefined when there is no previous value, it is too early, or the
 * new value is `known` (already reported).
 *
 * Sightings are as coarse as segment spans, and compaction coarsens them after the fact: two
 * values first seen in one compacted block get the same first time. So among values first seen
 * at the same time, a known one counts as older than an unknown one (a report already sent for
 * the newer value is not sent again the other way round), and when the two values' first times
 * are equal the baseline is the previous value's last window, overlapping the new value's first
 * (the label matchers keep the two sides apart).
 */
export function latestDeploy(
  sightings: ReadonlyMap<string, Sighting>,
  nowMs: number,
  c: { windowMs: number; settleMs: number },
  known: ReadonlySet<string> = new Set(),
): DeployComparison | undefined {
  const byFirst = [...sightings].sort(
    ([va, a], [vb, b]) => a.firstMs - b.firstMs || Number(known.has(vb)) - Number(known.has(va)) || (va < vb ? -1 : va > vb ? 1 : 0),
  );
  if (byFirst.length < 2) return undefined;
  const [newValue, neu] = byFirst[byFirst.length - 1];
  const [oldValue, old] = byFirst[byFirst.length - 2];
  if (known.has(newValue) || nowMs < neu.firstMs + c.settleMs) return undefined;
  const baselineEnd = neu.firstMs > old.firstMs ? Math.min(neu.firstMs, old.lastMs + 1) : old.lastMs + 1;
  const baselineStart = Math.max(old.firstMs, baselineEnd - c.windowMs);
  const targetEnd = Math.min(nowMs, neu.firstMs + c.windowMs);
  if (baselineStart >= baselineEnd || neu.firstMs >= targetEnd) return undefined;
  return {
    baseline: { value: oldValue, startMs: baselineStart, endMs: baselineEnd },
    target: { value: newValue, startMs: neu.firstMs, endMs: targetEnd },
  };
}

/** What the deploy checks' KV bucket holds per check: the deploy last reported (or being reported). */
export interface DeployClaim {
  /** The new value being or last reported. */
  target: string;
  /** `failed`: the last attempt failed and released the claim, so the next round retries at once. */
  state: 'sending' | 'sent' | 'failed';
  atMs: number;
  /** The querier instance that claimed it. */
  owner: string;
  /** Values already accounted for (reported, or older than a reported one), newest last. */
  known?: string[];
}

/** Values kept in `known`: far more than deploys within the 7 days the checks look back. */
export const MAX_KNOWN_VALUES = 200;

/**
 * Whether a querier should claim the report of `target` now: not when it was sent already, nor
 * while another querier's claim on it is fresh (a claim left by a crashed querier goes stale).
 */
export function shouldClaim(claim: DeployClaim | undefined, target: string, nowMs: number, staleMs: number): boolean {
  if (!claim || claim.target !== target) return true;
  if (claim.state === 'sent') return false;
  if (claim.state === 'failed') return true;
  return nowMs - claim.atMs >= staleMs;
}

/** `known` after reporting a deploy: every value seen so far is the reported one or older. */
export function knownAfterReport(claim: DeployClaim | undefined, sightings: ReadonlyMap<string, Sighting>, d: DeployComparison): string[] {
  const seen = [...sightings].sort(([, a], [, b]) => a.firstMs - b.firstMs).map(([v]) => v);
  const all = new Set([...(claim?.known ?? []), ...seen.filter((v) => v !== d.target.value), d.baseline.value, d.target.value]);
  return [...all].slice(-MAX_KNOWN_VALUES);
}
