import { describe, expect, it } from 'vitest';
import { ConfigError } from '@firn/config';
import { createLogger } from '@firn/observability';
import { EndpointSet, parseEndpoints } from './endpoints';

const log = createLogger({ component: 'test', level: 'silent' });

describe(EndpointSet.name, () => {
  it('parses static URLs and dns+ names, and names the setting on a bad entry', () => {
    expect(parseEndpoints(' http://q-1:4102/ , dns+http://firn-querier-peers.ns.svc:4102', 'k', 'FIRN_X')).toEqual([
      { kind: 'static', url: 'http://q-1:4102' },
      { kind: 'dns', scheme: 'http', host: 'firn-querier-peers.ns.svc', port: 4102 },
    ]);
    expect(() => parseEndpoints('q-1:4102', 'k', 'FIRN_X')).toThrow(ConfigError);
    expect(() => parseEndpoints('dns+http://name', 'k', 'FIRN_X')).toThrow(/FIRN_X/);
  });

  it('expands a DNS name to every address but its own, follows changes and keeps the last answer on failure', async () => {
    let answer: string[] | Error = ['10.0.0.2', '10.0.0.1', '10.0.0.3'];
    const seen: string[][] = [];
    const set = new EndpointSet({
      specs: parseEndpoints('dns+http://peers:4102,http://fixed:1', 'k', 'FIRN_X'),
      refreshMs: 60_000,
      self: '10.0.0.3',
      log,
      resolve: async () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
    set.onChange((u) => seen.push([...u]));
    await set.start();
    expect(set.current()).toEqual(['http://10.0.0.1:4102', 'http://10.0.0.2:4102', 'http://fixed:1']);
    answer = ['10.0.0.1'];
    await set.refresh();
    expect(set.current()).toEqual(['http://10.0.0.1:4102', 'http://fixed:1']);
    answer = new Error('SERVFAIL');
    await set.refresh();
    expect(set.current()).toEqual(['http://10.0.0.1:4102', 'http://fixed:1']);
    expect(seen).toHaveLength(2);
    set.close();
  });
});
