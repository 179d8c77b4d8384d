import { describe, expect, it } from 'vitest';
import { fakeCliIo, jsonResponse } from '../testing/fake-cli-io';
import { runCli } from './cli';

function io(response: { status: number; body: unknown }) {
  return fakeCliIo(() => jsonResponse(response.status, response.body));
}

describe(runCli.name, () => {
  it('creates a token through the admin API and prints its secret once', async () => {
    const t = io({ status: 201, body: { token: { id: 'abc123abc123', tenant: 'acme', scopes: ['read:profiles'] }, secretToken: 'firn_abc123abc123_s' } });
    const code = await runCli(
      ['tokens', 'create', '--tenant', 'acme', '--scopes', 'read:profiles, write:profiles', '--ttl', '3600'],
      { FIRN_URL: 'http://gw:4100/', FIRN_ADMIN_TOKEN: 'adm' },
      t.io,
    );
    expect(code).toBe(0);
    expect(t.calls[0].url).toBe('http://gw:4100/api/v1/admin/tokens');
    expect(JSON.parse(String(t.calls[0].init.body))).toEqual({
      tenant: 'acme',
      scopes: ['read:profiles', 'write:profiles'],
      ttlSeconds: '3600',
      description: '',
    });
    expect((t.calls[0].init.headers as Record<string, string>)['authorization']).toBe('Bearer adm');
    expect(t.out.at(-1)).toBe('firn_abc123abc123_s');
  });

  it('exits 2 on usage errors and 1 on API errors, with the server message', async () => {
    const t = io({ status: 403, body: { code: 'permission_denied', message: 'token x lacks scope admin' } });
    expect(await runCli(['tokens', 'create', '--tenant', 'acme'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(2);
    expect(await runCli(['tenants', 'list'], {}, t.io)).toBe(2);
    expect(await runCli(['tenants', 'explode'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(2);
    expect(await runCli(['tenants', 'list', '--tennant', 'x'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(2);
    expect(t.err.at(-1)).toMatch(/^unknown flag --tennant/);
    expect(await runCli(['tenants', 'create', 'Bad/Id'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(2);
    expect(await runCli(['tokens', 'create', '--tenant', '../x', '--scopes', 'read:profiles'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(2);
    expect(t.err.at(-1)).toMatch(/invalid tenant id/);
    expect(await runCli(['tokens', 'revoke', 'abc'], { FIRN_ADMIN_TOKEN: 'a' }, t.io)).toBe(1);
    expect(t.err.at(-1)).toBe('error 403: token x lacks scope admin');
    expect(t.calls.map((c) => c.url)).toEqual(['http://127.0.0.1:7070/api/v1/admin/tokens/abc/revoke']);
  });

  it('prints the usage of every command on --help and exits 0', async () => {
    const t = io({ status: 200, body: {} });
    expect(await runCli(['--help'], {}, t.io)).toBe(0);
    expect(t.out.join('\n')).toMatch(/firn profile push[\s\S]*firn query[\s\S]*firn export pprof[\s\S]*firn tokens create/);
    expect(t.calls).toEqual([]);
  });
});
