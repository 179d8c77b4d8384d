import { memo, useMemo, useRef, useState } from 'react';
import { formatValue, percent, signedPercent } from '../model/format';
import { sortRows, type SortKey, type TopRow } from '../model/table';

interface Props {
  rows: readonly TopRow[];
  unit: string;
  /** What percentages are of (the root's total). */
  total: number;
  diff: boolean;
  selectedName?: number;
  onPick: (row: TopRow) => void;
  onSandwich?: (row: TopRow) => void;
}

const PAGE = 300;

/**
 * Functions by self / total (or by change in a diff), sortable by every column. Keyboard: Tab
 * into the table, ↑/↓/Home/End move between rows, Enter focuses the function in the graph.
 */
export const TopTable = memo(function TopTable({ rows, unit, total, diff, selectedName, onPick, onSandwich }: Props) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: diff ? 'totalDiff' : 'self', desc: true });
  const [limit, setLimit] = useState(PAGE);
  const body = useRef<HTMLTableSectionElement>(null);
  const sorted = useMemo(() => sortRows(rows, sort.key, sort.desc), [rows, sort]);
  const shown = sorted.slice(0, limit);

  const header = (key: SortKey, label: string, numeric = true) => {
    const active = sort.key === key;
    return (
      <th scope="col" className={numeric ? 'num' : undefined} aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
        <button type="button" className="sort" onClick={() => setSort({ key, desc: active ? !sort.desc : key !== 'name' })}>
          {label}
          <span aria-hidden="true">{active ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
        </button>
      </th>
    );
  };

  const move = (from: HTMLElement, to: number): void => {
    const rowsEls = body.current?.querySelectorAll<HTMLTableRowElement>('tr[data-row]');
    if (!rowsEls || rowsEls.length === 0) return;
    const i = Math.max(0, Math.min(rowsEls.length - 1, to));
    from.tabIndex = -1;
    rowsEls[i].tabIndex = 0;
    rowsEls[i].focus();
  };

  return (
    <div className="table-wrap">
      <table className="top" aria-label={diff ? 'Functions by change' : 'Functions by CPU'} aria-rowcount={sorted.length}>
        <thead>
          <tr>
            {diff ? (
              <>
                {header('totalDiff', 'Total change')}
                {header('selfDiff', 'Self change')}
                {header('total', 'Total (B)')}
              </>
            ) : (
              <>
                {header('self', 'Self')}
                {header('total', 'Total')}
              </>
            )}
            {header('name', 'Function', false)}
          </tr>
        </thead>
        <tbody ref={body}>
          {shown.map((r, i) => {
            const base = r.total - r.totalDiff;
            return (
              <tr
                key={r.name}
                data-row
                data-name={r.label}
                data-self={r.self}
                data-total={r.total}
                data-total-diff={r.totalDiff}
                tabIndex={i === 0 ? 0 : -1}
                aria-selected={selectedName === r.name}
                className={selectedName === r.name ? 'selected' : undefined}
                onClick={() => onPick(r)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowDown') move(e.currentTarget, i + 1);
                  else if (e.key === 'ArrowUp') move(e.currentTarget, i - 1);
                  else if (e.key === 'Home') move(e.currentTarget, 0);
                  else if (e.key === 'End') move(e.currentTarget, shown.length - 1);
                  else if (e.key === 'Enter') onPick(r);
                  else if (e.key === 's' && onSandwich) onSandwich(r);
                  else return;
                  e.preventDefault();
                }}
              >
                {diff ? (
                  <>
                    <td className={`num ${r.totalDiff > 0 ? 'worse' : r.totalDiff < 0 ? 'better' : ''}`}>
                      {r.totalDiff > 0 ? '+' : ''}
                      {formatValue(r.totalDiff, unit)} <span className="muted">{signedPercent(r.totalDiff, base)}</span>
                    </td>
                    <td className="num">
                      {r.selfDiff > 0 ? '+' : ''}
                      {formatValue(r.selfDiff, unit)}
                    </td>
                    <td className="num">{formatValue(r.total, unit)}</td>
                  </>
                ) : (
                  <>
                    <td className="num bar-cell" style={{ ['--bar' as string]: `${Math.min(100, (100 * r.self) / (total || 1))}%` }}>
                      {formatValue(r.self, unit)} <span className="pct">{percent(r.self, total)}</span>
                    </td>
                    <td className="num">
                      {formatValue(r.total, unit)} <span className="pct">{percent(r.total, total)}</span>
                    </td>
                  </>
                )}
                <td className="fn mono" title={r.binary ? `${r.label} (${r.binary})` : r.label}>
                  {r.label}
                  {onSandwich && (
                    <button
                      type="button"
                      className="link small"
                      tabIndex={-1}
                      onClick={(e) => {
                        e.stopPropagation();
                        onSandwich(r);
                      }}
                    >
                      sandwich
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {sorted.length > limit && (
        <button type="button" className="ghost more" onClick={() => setLimit((l) => l + PAGE * 3)}>
          Show more ({sorted.length - limit} more functions)
        </button>
      )}
    </div>
  );
});
