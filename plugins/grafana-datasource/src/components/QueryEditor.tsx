import React, { useEffect, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';
import type { DataSource } from '../datasource';
import type { ProfileType } from '../firn-api';
import { FirnOptions, FirnQuery, FirnQueryType } from '../types';
import { LabelMatchers } from './LabelMatchers';

type Props = QueryEditorProps<DataSource, FirnQuery, FirnOptions>;

const QUERY_TYPES: Array<SelectableValue<FirnQueryType>> = [
  { label: 'Flame graph', value: 'flamegraph' },
  { label: 'Series', value: 'series' },
  { label: 'Both', value: 'both' },
];

const LABEL_WIDTH = 20;

function profileTypeLabel(t: ProfileType): string {
  return `${t.name} · ${t.sampleType} (${t.sampleUnit})`;
}

/**
 * Profile type, label selector (with autocomplete), flame graph / series / both, group-by and
 * step for series, diff against a baseline selection, max nodes. Every change that alters the
 * result re-runs the query; free-text fields do so when they lose focus.
 */
export function QueryEditor({ datasource, query, onChange, onRunQuery, range }: Props) {
  const [types, setTypes] = useState<ProfileType[]>();
  const [typesError, setTypesError] = useState<string>();
  const [groupByNames, setGroupByNames] = useState<string[]>();
  const [draft, setDraft] = useState({ step: query.step ?? '', maxNodes: query.maxNodes?.toString() ?? '', baselineOffset: query.baselineOffset ?? '' });
  // Free-text fields commit on blur; follow the query when it changes from outside (history, another editor).
  useEffect(() => {
    setDraft({ step: query.step ?? '', maxNodes: query.maxNodes?.toString() ?? '', baselineOffset: query.baselineOffset ?? '' });
  }, [query.step, query.maxNodes, query.baselineOffset]);

  const from = range?.from.valueOf();
  const to = range?.to.valueOf();
  useEffect(() => {
    let live = true;
    datasource.getProfileTypes(range).then(
      (t) => {
        if (!live) return;
        setTypes(t);
        setTypesError(undefined);
      },
      (e: unknown) => {
        if (live) setTypesError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => {
      live = false;
    };
    // The range object may change identity on every render; its bounds are what matter.
  }, [datasource, from, to]);

  const change = (patch: Partial<FirnQuery>) => {
    onChange({ ...query, ...patch });
    onRunQuery();
  };

  const queryType = query.queryType ?? 'both';
  const typeOptions: Array<SelectableValue<string>> = (types ?? []).map((t) => ({ label: profileTypeLabel(t), value: t.id, description: t.id }));
  if (query.profileTypeId && !typeOptions.some((o) => o.value === query.profileTypeId))
    typeOptions.push({ label: query.profileTypeId, value: query.profileTypeId });

  const loadNames = (scope: string) => datasource.getLabelNames(query.profileTypeId, scope, range);
  const loadValues = (name: string, scope: string) => datasource.getLabelValues(name, query.profileTypeId, scope, range);

  return (
    <div data-testid="firn-query-editor">
      <InlineFieldRow>
        <InlineField
          label="Profile type"
          labelWidth={LABEL_WIDTH}
          invalid={Boolean(typesError)}
          error={typesError}
          tooltip="Which profiles to read: CPU samples from Firn's agent, Pyroscope SDK types, …"
        >
          <Select
            inputId="firn-query-profile-type"
            width={48}
            placeholder={types ? 'Choose a profile type' : 'Loading profile types…'}
            isLoading={!types && !typesError}
            value={query.profileTypeId ? typeOptions.find((o) => o.value === query.profileTypeId) : null}
            options={typeOptions}
            allowCustomValue
            onChange={(v: SelectableValue<string>) => change({ profileTypeId: v?.value })}
          />
        </InlineField>
        <InlineField label="Query type" labelWidth={12}>
          <RadioButtonGroup<FirnQueryType> id="firn-query-type" options={QUERY_TYPES} value={queryType} onChange={(v) => change({ queryType: v })} />
        </InlineField>
      </InlineFieldRow>

      <LabelMatchers
        id="firn-query-labels"
        label={query.diff ? 'Comparison' : 'Labels'}
        selector={query.labelSelector ?? '{}'}
        onChange={(s) => change({ labelSelector: s })}
        loadNames={loadNames}
        loadValues={loadValues}
      />

      {queryType !== 'series' && (
        <InlineFieldRow>
          <InlineField
            label="Diff"
            labelWidth={LABEL_WIDTH}
            tooltip="Flame graph of the change from a baseline selection to this one (Grafana's diff flame graph)."
          >
            <InlineSwitch
              id="firn-query-diff"
              value={Boolean(query.diff)}
              onChange={(e) => change({ diff: e.currentTarget.checked, baselineSelector: query.baselineSelector ?? query.labelSelector ?? '{}' })}
            />
          </InlineField>
          <InlineField label="Max nodes" labelWidth={14} tooltip="Keep the largest nodes; the rest folds into 'other'. Empty: Firn's default (8192).">
            <Input
              id="firn-query-max-nodes"
              width={10}
              type="number"
              min={1}
              value={draft.maxNodes}
              placeholder="8192"
              onChange={(e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, maxNodes: e.currentTarget.value })}
              onBlur={() => {
                const n = draft.maxNodes.trim() === '' ? undefined : Math.max(1, Math.floor(Number(draft.maxNodes)));
                if (n !== query.maxNodes && (n === undefined || Number.isFinite(n))) change({ maxNodes: n });
              }}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType !== 'series' && query.diff && (
        <>
          <LabelMatchers
            id="firn-query-baseline"
            label="Baseline"
            selector={query.baselineSelector ?? '{}'}
            onChange={(s) => change({ baselineSelector: s })}
            loadNames={loadNames}
            loadValues={loadValues}
          />
          <InlineFieldRow>
            <InlineField
              label="Baseline time shift"
              labelWidth={LABEL_WIDTH}
              tooltip="Compare with the same selection earlier, e.g. 1d; empty compares the same time range."
            >
              <Input
                id="firn-query-baseline-offset"
                width={12}
                value={draft.baselineOffset}
                placeholder="none"
                onChange={(e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, baselineOffset: e.currentTarget.value })}
                onBlur={() => draft.baselineOffset !== (query.baselineOffset ?? '') && change({ baselineOffset: draft.baselineOffset.trim() || undefined })}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}

      {queryType !== 'flamegraph' && (
        <InlineFieldRow>
          <InlineField label="Group by" labelWidth={LABEL_WIDTH} tooltip="One series per value of these labels (e.g. namespace).">
            <MultiSelect
              inputId="firn-query-group-by"
              width={48}
              placeholder="no grouping"
              value={(query.groupBy ?? []).map((g) => ({ label: g, value: g }))}
              options={(groupByNames ?? query.groupBy ?? []).map((g) => ({ label: g, value: g }))}
              isLoading={groupByNames === undefined ? undefined : false}
              onOpenMenu={() => void loadNames(query.labelSelector ?? '{}').then(setGroupByNames)}
              allowCustomValue
              onChange={(v: Array<SelectableValue<string>>) => change({ groupBy: v.map((x) => x.value ?? '').filter((x) => x !== '') })}
            />
          </InlineField>
          <InlineField label="Step" labelWidth={12} tooltip="Bucket width, e.g. 1m. Empty: Grafana's interval, at least the data source's minimum step.">
            <Input
              id="firn-query-step"
              width={10}
              value={draft.step}
              placeholder="auto"
              onChange={(e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, step: e.currentTarget.value })}
              onBlur={() => draft.step !== (query.step ?? '') && change({ step: draft.step.trim() || undefined })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </div>
  );
}
