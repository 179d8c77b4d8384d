import { describe, expect, it } from 'vitest';
import { parseVariableQuery } from './variables';

describe(parseVariableQuery.name, () => {
  it('does read the three functions', () => {
    expect(parseVariableQuery('profile_types()')).toEqual({ kind: 'profile_types' });
    expect(parseVariableQuery('label_names()')).toEqual({ kind: 'label_names', selector: '' });
    expect(parseVariableQuery(' label_names({service_name="api"}) ')).toEqual({ kind: 'label_names', selector: '{service_name="api"}' });
    expect(parseVariableQuery('label_values(namespace)')).toEqual({ kind: 'label_values', selector: '', label: 'namespace' });
  });

  it('does split the selector from the label at the last top-level comma', () => {
    expect(parseVariableQuery('label_values({a="x,y", b=~"1|2"}, pod)')).toEqual({ kind: 'label_values', selector: '{a="x,y", b=~"1|2"}', label: 'pod' });
    expect(parseVariableQuery('label_values(process_cpu:cpu:nanoseconds:cpu:nanoseconds{namespace="checkout"}, pod)')).toEqual({
      kind: 'label_values',
      selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{namespace="checkout"}',
      label: 'pod',
    });
  });

  it('does explain what it does not understand', () => {
    expect(() => parseVariableQuery('values(x)')).toThrow(/use profile_types\(\), label_names/);
    expect(() => parseVariableQuery('label_values({a="b"}, )')).toThrow(/label name as its last argument/);
    expect(() => parseVariableQuery('profile_types(x)')).toThrow(/takes no arguments/);
  });
});
