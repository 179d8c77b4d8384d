import type { Frame } from '@firn/profiles';

/**
 * A merged profile: what a query aggregates to and every report renders from. Stacks are leaf
 * first (as stored); `values[i]` is the summed value of `stacks[i]` over the selection. For a
 * diff, `base[i]` is the value of the same stack in the comparison (A) selection and `values`
 * is the B selection (a stack present in only one side has 0 on the other).
 */
export interface StackProfile {
  /** Formatted profile type, e.g. `parca_agent:samples:count:cpu:nanoseconds:delta`. */
  profileType: string;
  stacks: Frame[][];
  values: Float64Array;
  base?: Float64Array;
  /** Sum of `values` (before any trimming). */
  total: number;
}
