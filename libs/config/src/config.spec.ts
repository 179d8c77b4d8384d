import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, configDocs, defineConfig, loadConfig, parseFlags, port, setting, urlList } from './config';

const def = defineConfig('demo', {
  port: setting({ env: 'DEMO_PORT', flag: 'port', schema: port, default: '4100', description: 'port' }),
  name: setting({ env: 'DEMO_NAME', flag: 'name', schema: z.string().min(1), description: 'required name' }),
  secret: setting({ env: 'DEMO_SECRET', flag: 'secret', schema: z.string().min(8), default: 'password1', description: 's', secret: true }),
  urls: setting({ env: 'DEMO_URLS', flag: 'urls', schema: urlList, default: 'nats://a:1,nats://b:2', description: 'u' }),
});

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe(loadConfig.name, () => {
  it('applies defaults, env, then flags in increasing precedence', () => {
    expect(loadConfig(def, { env: { DEMO_NAME: 'x' } }).port).toBe(4100);
    expect(loadConfig(def, { env: { DEMO_NAME: 'x', DEMO_PORT: '5000' } }).port).toBe(5000);
    const cfg = loadConfig(def, { env: { DEMO_NAME: 'x', DEMO_PORT: '5000' }, argv: ['--port', '6000'] });
    expect(cfg.port).toBe(6000);
    expect(cfg.urls).toEqual(['nats://a:1', 'nats://b:2']);
  });

  it('names the bad key, its env var and flag in a one-line message', () => {
    const err = errorOf(() => loadConfig(def, { env: { DEMO_NAME: 'x', DEMO_PORT: 'abc' } }));
    expect(err.key).toBe('port');
    expect(err.message).toContain('DEMO_PORT (--port)');
    expect(err.message).toContain('"abc"');
    expect(err.message).not.toContain('\n');
  });

  it('reports missing required settings', () => {
    const err = errorOf(() => loadConfig(def, { env: {} }));
    expect(err.key).toBe('name');
    expect(err.message).toMatch(/DEMO_NAME \(--name\) is required/);
  });

  it('never echoes secrets', () => {
    const err = errorOf(() => loadConfig(def, { env: { DEMO_NAME: 'x', DEMO_SECRET: 'short' } }));
    expect(err.message).toContain('<secret>');
    expect(err.message).not.toContain('short');
  });

  it('rejects unknown flags by name', () => {
    const err = errorOf(() => loadConfig(def, { env: { DEMO_NAME: 'x' }, argv: ['--prot', '1'] }));
    expect(err.message).toContain('--prot');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig(def, { env: { DEMO_NAME: 'x' } }))).toBe(true);
  });
});

describe('renamed settings', () => {
  const renamed = defineConfig('demo', {
    file: setting({
      env: 'DEMO_OVERRIDES_FILE',
      flag: 'overrides-file',
      schema: z.string(),
      default: '',
      description: 'f',
      aliases: [{ env: 'DEMO_LIMITS_FILE', flag: 'limits-file' }],
    }),
  });

  it('still reads the earlier env name and flag, after the current ones', () => {
    expect(loadConfig(renamed, { env: { DEMO_LIMITS_FILE: 'old.yaml' } }).file).toBe('old.yaml');
    expect(loadConfig(renamed, { argv: ['--limits-file', 'old.yaml'] }).file).toBe('old.yaml');
    expect(loadConfig(renamed, { env: { DEMO_LIMITS_FILE: 'old.yaml', DEMO_OVERRIDES_FILE: 'new.yaml' } }).file).toBe('new.yaml');
    expect(loadConfig(renamed, { env: { DEMO_OVERRIDES_FILE: 'new.yaml' }, argv: ['--limits-file', 'flag.yaml'] }).file).toBe('flag.yaml');
  });

  it('documents the earlier name and refuses one shared with another setting', () => {
    expect(configDocs(renamed)).toContain('Earlier name, still read: `DEMO_LIMITS_FILE` (`--limits-file`).');
    expect(() =>
      defineConfig('demo', { ...renamed.settings, other: setting({ env: 'DEMO_LIMITS_FILE', flag: 'other', schema: z.string(), description: 'o' }) }),
    ).toThrow(/share env DEMO_LIMITS_FILE/);
  });
});

describe(parseFlags.name, () => {
  it('parses --k v, --k=v and bare booleans', () => {
    expect([...parseFlags(['--a', '1', '--b=2', '--c', '--d', 'x'])]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', 'true'],
      ['d', 'x'],
    ]);
  });
});

describe(configDocs.name, () => {
  it('documents every setting and hides secret defaults', () => {
    const md = configDocs(def);
    expect(md).toContain('`DEMO_PORT` | `--port` | `4100`');
    expect(md).toContain('(required)');
    expect(md).not.toContain('password1');
  });
});
