import { describe, expect, it } from 'vitest';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { QueryMeter } from './query-meter';

const acme = tenantFromTrustedSource('acme');
const globex = tenantFromTrustedSource('globex');

describe(QueryMeter.name, () => {
  it('charges a lone query exactly the CPU of its run and splits overlapping ones evenly', () => {
    let cpu = 1_000;
    const m = new QueryMeter(() => cpu);
    cpu += 500; // before any query: nobody's
    const a = m.begin(acme);
    cpu += 300; // acme alone
    const b = m.begin(globex);
    cpu += 101; // both: 51 + 50
    a();
    cpu += 40; // globex alone
    b();
    cpu += 999; // after: nobody's
    expect(m.totals()).toEqual(
      new Map([
        [acme, { queries: 1, cpuMicros: 351 }],
        [globex, { queries: 1, cpuMicros: 90 }],
      ]),
    );
    a(); // a second end is harmless
    expect(m.totals().get(acme)).toEqual({ queries: 1, cpuMicros: 351 });
  });
});
