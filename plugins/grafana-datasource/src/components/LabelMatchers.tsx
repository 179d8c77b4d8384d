import React, { useEffect, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { Button, IconButton, InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';
import { formatMatchers, LabelMatcher, MATCH_OPS, MatchOp, parseMatchers } from '../selector';

/** A matcher being edited: a name without a value yet is not part of the selector. */
interface Row {
  name: string;
  op: MatchOp;
  value?: string;
}

function rowsOf(selector: string): Row[] | undefined {
  return parseMatchers(selector)?.map((m) => ({ ...m }));
}

function complete(rows: Row[]): LabelMatcher[] {
  return rows.filter((r): r is LabelMatcher => r.name !== '' && r.value !== undefined);
}

function options(values: string[]): Array<SelectableValue<string>> {
  return values.map((v) => ({ label: v, value: v }));
}

export interface LabelMatchersProps {
  /** Used in element ids (`<id>-name-0`, `<id>-selector`…) so tests and labels can find them. */
  id: string;
  label: string;
  selector: string;
  /** A new selector text; the query re-runs. */
  onChange: (selector: string) => void;
  /** Label names for autocomplete among the series the other rows select (`scope`, a selector). */
  loadNames: (scope: string) => Promise<string[]>;
  loadValues: (name: string, scope: string) => Promise<string[]>;
}

/**
 * A label selector as rows of `name op value` with autocomplete from Firn (names and values of
 * the series the other rows select), plus the selector as text for anything the rows cannot
 * show (pasted Parca selectors, template variables in odd places).
 */
export function LabelMatchers({ id, label, selector, onChange, loadNames, loadValues }: LabelMatchersProps) {
  const [rows, setRows] = useState<Row[]>(() => rowsOf(selector) ?? []);
  const [text, setText] = useState(selector);
  const [names, setNames] = useState<string[]>();
  const [values, setValues] = useState<Record<number, string[] | undefined>>({});
  const [loading, setLoading] = useState<string>();

  // Follow outside changes (another editor, a dashboard variable) without clobbering a row being edited.
  useEffect(() => {
    setText(selector);
    if (formatMatchers(complete(rows)) !== (selector.trim() || '{}')) {
      const parsed = rowsOf(selector);
      if (parsed) setRows(parsed);
    }
    // Only `selector` is followed: rows are compared against it, not watched.
  }, [selector]);

  const scopeWithout = (i: number) => formatMatchers(complete(rows.filter((_, j) => j !== i)));

  const commit = (next: Row[]) => {
    setRows(next);
    const sel = formatMatchers(complete(next));
    setText(sel);
    if (sel !== (selector.trim() || '{}')) onChange(sel);
  };

  const openNames = async (i: number) => {
    setLoading(`name-${i}`);
    try {
      setNames(await loadNames(scopeWithout(i)));
    } finally {
      setLoading(undefined);
    }
  };

  const openValues = async (i: number) => {
    const name = rows[i]?.name;
    if (!name) return;
    setLoading(`value-${i}`);
    try {
      const v = await loadValues(name, scopeWithout(i));
      setValues((prev) => ({ ...prev, [i]: v }));
    } finally {
      setLoading(undefined);
    }
  };

  const update = (i: number, patch: Partial<Row>) => commit(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  return (
    <div data-testid={id}>
      {rows.map((row, i) => (
        <InlineFieldRow key={i}>
          <InlineField label={i === 0 ? label : ''} labelWidth={20} transparent={i !== 0}>
            <Select
              inputId={`${id}-name-${i}`}
              width={24}
              placeholder="label"
              value={row.name ? { label: row.name, value: row.name } : null}
              options={options(names ?? (row.name ? [row.name] : []))}
              isLoading={loading === `name-${i}`}
              onOpenMenu={() => void openNames(i)}
              allowCustomValue
              onChange={(v: SelectableValue<string>) => {
                setValues((prev) => ({ ...prev, [i]: undefined }));
                update(i, { name: v?.value ?? '', value: undefined });
              }}
            />
          </InlineField>
          <Select
            inputId={`${id}-op-${i}`}
            width={8}
            value={{ label: row.op, value: row.op }}
            options={MATCH_OPS.map((op) => ({ label: op, value: op }))}
            onChange={(v: SelectableValue<MatchOp>) => update(i, { op: v.value ?? '=' })}
          />
          <Select
            inputId={`${id}-value-${i}`}
            width={32}
            placeholder={row.name ? 'value' : 'choose a label first'}
            disabled={!row.name}
            value={row.value !== undefined ? { label: row.value, value: row.value } : null}
            options={options(values[i] ?? (row.value !== undefined ? [row.value] : []))}
            isLoading={loading === `value-${i}`}
            onOpenMenu={() => void openValues(i)}
            allowCustomValue
            onChange={(v: SelectableValue<string>) => update(i, { value: v?.value ?? '' })}
          />
          <IconButton name="times" aria-label={`Remove matcher ${i + 1}`} tooltip="Remove" onClick={() => commit(rows.filter((_, j) => j !== i))} />
        </InlineFieldRow>
      ))}
      <InlineFieldRow>
        <InlineField label={rows.length === 0 ? label : ''} labelWidth={20} transparent={rows.length !== 0}>
          <Button id={`${id}-add`} variant="secondary" size="sm" icon="plus" onClick={() => setRows([...rows, { name: '', op: '=' }])}>
            Label filter
          </Button>
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField
          label="Selector"
          labelWidth={20}
          grow
          tooltip='The label selector as text: {name="value", other=~"re.*"}. A Parca-style profile type in front (type{…}) overrides the profile type picker.'
        >
          <Input
            id={`${id}-selector`}
            value={text}
            onChange={(e: React.ChangeEvent<HTMLInputElement>) => setText(e.currentTarget.value)}
            onBlur={() => {
              if (text !== selector) {
                const parsed = rowsOf(text);
                if (parsed) setRows(parsed);
                onChange(text);
              }
            }}
          />
        </InlineField>
      </InlineFieldRow>
    </div>
  );
}
