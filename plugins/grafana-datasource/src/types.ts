import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** What a query returns: a flame graph frame, time series frames, or both (Pyroscope's choice too). */
export type FirnQueryType = 'flamegraph' | 'series' | 'both';

export interface FirnQuery extends DataQuery {
  queryType?: FirnQueryType;
  /** Pyroscope-style profile type id, e.g. `process_cpu:cpu:nanoseconds:cpu:nanoseconds`. */
  profileTypeId?: string;
  /** Prometheus-style label selector, e.g. `{namespace="checkout"}`. Template variables allowed. */
  labelSelector?: string;
  /** Series: one series per distinct value combination of these labels. */
  groupBy?: string[];
  /** Series: bucket width such as `15s` or `1m`; empty means Grafana's interval (at least the data source's minimum step). */
  step?: string;
  /** Flame graph: keep at most this many nodes (the rest folds into `other`); empty means Firn's default. */
  maxNodes?: number;
  /** Flame graph: compare `baselineSelector` (left) with `labelSelector` (right). */
  diff?: boolean;
  baselineSelector?: string;
  /** Diff: the baseline covers the dashboard range shifted back by this much (e.g. `1d`); empty means the same range. */
  baselineOffset?: string;
}

/** Saved in the data source's jsonData (readable by every viewer: nothing secret here). */
export interface FirnOptions extends DataSourceJsonData {
  /** Firn's query endpoint (the querier Service, or the all-in-one), e.g. `http://firn:7070`. */
  url?: string;
  defaultProfileType?: string;
  /** Smallest series step, e.g. `15s`. */
  minStep?: string;
  /** Read by Grafana's data source proxy for the outgoing connection to Firn. */
  tlsSkipVerify?: boolean;
  tlsAuthWithCACert?: boolean;
}

/** Encrypted by Grafana; only its data source proxy reads them (the route in plugin.json). */
export interface FirnSecureJsonData {
  apiToken?: string;
  tlsCACert?: string;
}

/** The proxy route in plugin.json: requests to `<instance url>/firn/...` reach Firn with the token. */
export const ROUTE_PATH = 'firn';

export const DEFAULT_MIN_STEP = '15s';

export const DEFAULT_QUERY: Partial<FirnQuery> = {
  queryType: 'both',
  labelSelector: '{}',
  groupBy: [],
};
