import { readFileSync } from 'node:fs';
import type { DescService } from '@bufbuild/protobuf';
import * as protos from '@firn/proto';

interface LogLine {
  msg?: string;
  services?: string[];
  nest?: string;
}

function logLines(file: string): LogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

/** The RPC services the process registered, from its own "started" log line. */
export function registeredServices(logFile: string): string[] {
  const started = logLines(logFile).find((l) => l.msg === 'started' && Array.isArray(l.services));
  if (!started?.services) throw new Error(`no "started" line with services in ${logFile}`);
  return started.services;
}

/** The Nest HTTP routes the process mapped ("Mapped {/path, GET} route", logged at debug). */
export function registeredRoutes(logFile: string): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const l of logLines(logFile)) {
    const m = /^Mapped \{(\S+), (\w+)\} route/.exec(l.msg ?? '');
    if (m) out.push({ path: m[1], method: m[2] });
  }
  if (out.length === 0) throw new Error(`no mapped routes in ${logFile}; start the app with FIRN_LOG_LEVEL=debug`);
  return out;
}

/** Every service defined in @firn/proto, by fully-qualified name. */
export function protoServices(): Map<string, DescService> {
  const out = new Map<string, DescService>();
  for (const ns of Object.values(protos)) {
    for (const v of Object.values(ns as Record<string, unknown>)) {
      if (typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'service') {
        const s = v as DescService;
        out.set(s.typeName, s);
      }
    }
  }
  return out;
}

/** gzip of `bytes` zero bytes, produced in chunks so the test never holds the inflated data. */

export interface AdminClient {
  createTenant(id: string): Promise<void>;
  createToken(tenant: string, scopes: string[]): Promise<{ id: string; token: string }>;
  revoke(id: string): Promise<void>;
}

/** The admin HTTP API with the bootstrap secret. */
export function adminClient(base: string, adminToken: string): AdminClient {
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  return {
    async createTenant(id) {
      await call('POST', '/api/v1/admin/tenants', { id });
    },
    async createToken(tenant, scopes) {
      const r = await call('POST', '/api/v1/admin/tokens', { tenant, scopes });
      return { id: String((r['token'] as Record<string, unknown>)['id']), token: String(r['secretToken']) };
    },
    async revoke(id) {
      await call('POST', `/api/v1/admin/tokens/${id}/revoke`);
    },
  };
}

export const ADMIN_SECRET = 'e2e-bootstrap-admin-secret-0123456789abcdef';
