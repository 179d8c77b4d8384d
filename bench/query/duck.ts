// The same aggregate as a merged flame graph (total per stack) computed by DuckDB straight from
// the segments' Parquet files, as a reference for what a columnar engine does with them.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckQuery {
  profileType: string;
  /** [startMs, endMs) */
  startMs: number;
  endMs: number;
  /** Equality filters on labels, e.g. { namespace: 'ns-3' }. */
  labels?: Record<string, string>;
}

export interface DuckResult {
  stacks: number;
  total: number;
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * stack_id is dense per segment, so samples join stacks within their own segment: both files sit
 * in the segment's directory, hence the join on (directory, stack_id).
 */
export function totalPerStackSql(segmentDirs: string[], q: DuckQuery): string {
  const list = (file: string): string => `[${segmentDirs.map((d) => lit(`${d.replace(/\/?$/, '/')}${file}`)).join(', ')}]`;
  const filters = [`profile_type = ${lit(q.profileType)}`, `"timestamp" >= ${q.startMs}`, `"timestamp" < ${q.endMs}`];
  for (const [name, value] of Object.entries(q.labels ?? {})) filters.push(`${ident(`labels.${name}`)} = ${lit(value)}`);
  return `
WITH s AS (
  SELECT parse_dirpath(filename) AS seg, stack_id, sum(value) AS v
  FROM read_parquet(${list('samples.parquet')}, filename = true, union_by_name = true)
  WHERE ${filters.join(' AND ')}
  GROUP BY ALL
), k AS (
  SELECT parse_dirpath(filename) AS seg, stack_id, stack_key
  FROM read_parquet(${list('stacks.parquet')}, filename = true)
)
SELECT k.stack_key, CAST(sum(s.v) AS DOUBLE) AS total
FROM s JOIN k ON s.seg = k.seg AND s.stack_id = k.stack_id
GROUP BY k.stack_key`;
}

export class DuckBench {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    readonly threads: number,
  ) {}

  static async open(threads?: number): Promise<DuckBench> {
    const instance = await DuckDBInstance.create(':memory:', threads ? { threads: String(threads) } : {});
    const conn = await instance.connect();
    const reader = await conn.runAndReadAll(`SELECT current_setting('threads') AS t`);
    const t = Number(reader.getRows()[0][0]);
    return new DuckBench(instance, conn, t);
  }

  /** Runs the query and reads every row back (the whole per-stack result, as a client would). */
  async totalPerStack(sql: string): Promise<DuckResult> {
    const reader = await this.conn.runAndReadAll(sql);
    let total = 0;
    const rows = reader.getRows();
    for (const r of rows) total += Number(r[1]);
    return { stacks: rows.length, total };
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
