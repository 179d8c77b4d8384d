import { describe, expect, it } from 'vitest';
import { assertUtf8QueryParam } from './pyroscope-params';

describe(assertUtf8QueryParam.name, () => {
  it('accepts UTF-8 percent-escapes, plain text and other parameters it does not check', () => {
    expect(() => assertUtf8QueryParam('/ingest?name=app.cpu%7Benv%3D%C3%A9%7D&from=%FF', 'name')).not.toThrow();
    expect(() => assertUtf8QueryParam('/ingest?name=a+b', 'name')).not.toThrow();
    expect(() => assertUtf8QueryParam(undefined, 'name')).not.toThrow();
  });

  it('refuses escapes that are not UTF-8, naming the parameter', () => {
    expect(() => assertUtf8QueryParam('/ingest?from=1&name=app%7Benv%3D%FF%FE%7D', 'name')).toThrow(/"name" is not valid UTF-8/);
    expect(() => assertUtf8QueryParam('/ingest?name=%ED%A0%80', 'name')).toThrow(/UTF-8/); // a lone surrogate, encoded
  });
});
