import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { startNatsServer, type NatsServerProcess } from '@firn/bus';
import { ConfigError, defineConfig, natsReplicasSetting, positiveInt, serverSettings, setting, storageSettings } from '@firn/config';
import { CompactorModule, compactorOptionsFrom, compactorSettings } from '@firn/compactor';
import { symbolizeQueueOptionsFrom, symbolizeQueueSettings } from '@firn/debuginfo';
import { GatewayModule, debuginfoOptionsFrom, debuginfoSettings, gatewayOptionsFrom, gatewaySettings, scrapeOptionsFrom, scrapeSettings } from '@firn/gateway';
import { IngesterModule, ingesterOptionsFrom, ingesterSettings } from '@firn/ingester';
import { AdminModule, AdminUsageModule, adminOptionsFrom, adminSettings } from '@firn/admin';
import { ManifestModule, PlatformModule, objectStoreConfigFrom, openInfra, openTenancy, tokenStoreSettings, type Infra } from '@firn/platform';
import { QuerierModule, querierOptionsFrom, querierSettings } from '@firn/querier';
import type { ServerSpec } from '@firn/server-runtime';
import { SymbolizerModule, symbolizerOptionsFrom, symbolizerSettings } from '@firn/symbolizer';
import { Scope, issueToken, readTokenFile, writeTokenFile } from '@firn/tenancy';

export const allInOneConfig = defineConfig('all-in-one', {
  ...serverSettings(7070),
  ...storageSettings(),
  natsUrl: setting({
    env: 'FIRN_NATS_URL',
    flag: 'nats-url',
    schema: z.string(),
    default: '',
    description: 'External NATS URL(s); empty = start a nats-server (JetStream) for you under <data-dir>/nats.',
  }),
  natsToken: setting({
    env: 'FIRN_NATS_TOKEN',
    flag: 'nats-token',
    schema: z.string(),
    default: '',
    description: 'NATS auth token (external NATS only).',
    secret: true,
  }),
  natsReplicas: natsReplicasSetting(),
  memoryCacheBytes: setting({
    env: 'FIRN_MEMORY_CACHE_BYTES',
    flag: 'memory-cache-bytes',
    schema: positiveInt,
    default: String(256 * 1024 * 1024),
    description: 'Size bound of the in-process symbol cache.',
  }),
  tokensFile: setting({
    env: 'FIRN_TOKENS_FILE',
    flag: 'tokens-file',
    schema: z.string(),
    default: '',
    description:
      'API tokens file for the read-only file store (setting it selects that store when FIRN_TOKEN_STORE=auto); empty with FIRN_TOKEN_STORE=file = <data-dir>/tokens.json (created with a default tenant on first start).',
  }),
  ...tokenStoreSettings(),
  ...adminSettings(),
  ...gatewaySettings(),
  ...ingesterSettings(),
  ...querierSettings(),
  ...debuginfoSettings(),
  ...scrapeSettings(),
  ...symbolizeQueueSettings(),
  ...symbolizerSettings(),
  ...compactorSettings(),
  symbolizerCacheDir: setting({
    env: 'FIRN_SYMBOLIZER_CACHE_DIR',
    flag: 'symbolizer-cache-dir',
    schema: z.string(),
    default: '',
    description: 'Directory for local copies of debug files; empty = <data-dir>/symbolizer-cache.',
  }),
});

type AllInOneConfig = Parameters<(typeof allInOneServer)['setup']>[0];

export const DEFAULT_TENANT = 'default';

/**
 * Creates the default tenant and its token on first start. The token is shown once on stdout and
 * kept in <data-dir>/default-token (mode 600); only its hash goes into the tokens file.
 */
async function ensureDefaultToken(dataDir: string, tokensFile: string): Promise<{ tokenFile: string; created?: string }> {
  const records = await readTokenFile(tokensFile);
  if (records.length > 0) return { tokenFile: join(dataDir, 'default-token') };
  const issued = issueToken(DEFAULT_TENANT, DEFAULT_SCOPES);
  await writeTokenFile(tokensFile, [issued.record]);
  return { tokenFile: await writeDefaultToken(dataDir, issued.token), created: issued.token };
}

const DEFAULT_SCOPES = [Scope.WriteProfiles, Scope.WriteDebuginfo, Scope.ReadProfiles];

async function writeDefaultToken(dataDir: string, token: string): Promise<string> {
  const tokenFile = join(dataDir, 'default-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  await chmod(tokenFile, 0o600);
  return tokenFile;
}

/**
 * Every server component in one process on embedded defaults: local-directory storage, an
 * in-process symbol cache, and a nats-server (JetStream) started for you. Each component's own
 * module is reused unchanged; nothing here is a second implementation.
 */
export const allInOneServer: ServerSpec<typeof allInOneConfig.settings> = {
  component: 'all-in-one',
  config: allInOneConfig,
  async setup(cfg, ctx) {
    const dataDir = resolve(cfg.dataDir);
    await mkdir(dataDir, { recursive: true });
    // Tenants and tokens live in the embedded NATS (managed with the admin API) unless a tokens
    // file is asked for; <data-dir>/tokens.json of older versions is imported on first start.
    const legacyTokensFile = join(dataDir, 'tokens.json');
    const fileMode = cfg.tokenStore === 'file' || (cfg.tokenStore === 'auto' && cfg.tokensFile !== '');
    const tokensFile = cfg.tokensFile || legacyTokensFile;
    let first: { tokenFile: string; created?: string } = fileMode
      ? await ensureDefaultToken(dataDir, tokensFile)
      : { tokenFile: join(dataDir, 'default-token') };
    const admin = adminOptionsFrom(cfg);
    let tenancy: Awaited<ReturnType<typeof openTenancy>> | undefined;

    let nats: NatsServerProcess | undefined;
    let infra: Infra | undefined;
    try {
      let servers = cfg.natsUrl
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (servers.length === 0) {
        if (cfg.natsReplicas > 1)
          throw new ConfigError(
            'natsReplicas',
            'FIRN_NATS_REPLICAS (--nats-replicas) above 1 needs an external NATS cluster (FIRN_NATS_URL); the embedded nats-server is a single node',
          );
        // 8 MiB messages: most agent batches go inline; larger ones use the claim check.
        nats = await startNatsServer({ dataDir: join(dataDir, 'nats'), host: '127.0.0.1', maxPayloadBytes: 8 * 1024 * 1024 });
        ctx.log.info({ url: nats.url, pid: nats.pid }, 'started embedded nats-server');
        servers = [nats.url];
      }
      infra = await openInfra(
        {
          storage: objectStoreConfigFrom(cfg),
          bus: { servers, token: cfg.natsToken, name: 'firn-all-in-one', replicas: cfg.natsReplicas },
          cache: { kind: 'memory', maxBytes: cfg.memoryCacheBytes },
        },
        { log: ctx.log, readiness: ctx.readiness },
      );
      tenancy = await openTenancy({ ...cfg, tokenStore: fileMode ? 'file' : 'nats', tokensFile: fileMode ? tokensFile : '' }, { bus: infra.bus, log: ctx.log });
      const created = await tenancy.store.kvStore?.bootstrap(DEFAULT_TENANT, DEFAULT_SCOPES, await readTokenFile(legacyTokensFile));
      if (created) first = { tokenFile: await writeDefaultToken(dataDir, created), created };
    } catch (err) {
      await tenancy?.store.close();
      await infra?.close();
      await nats?.stop();
      throw err;
    }
    const opened = infra;
    const natsProcess = nats;
    return {
      modules: [
        PlatformModule.forRoot(opened, tenancy.extras),
        AdminModule.forRoot(admin),
        ManifestModule.forRoot({ snapshotEvery: 200 }),
        GatewayModule.forRoot(gatewayOptionsFrom(cfg), debuginfoOptionsFrom(cfg), scrapeOptionsFrom(cfg)),
        IngesterModule.forRoot(ingesterOptionsFrom(cfg), symbolizeQueueOptionsFrom(cfg)),
        QuerierModule.forRoot(querierOptionsFrom(cfg)),
        AdminUsageModule.forRoot(admin),
        CompactorModule.forRoot(compactorOptionsFrom(cfg)),
        // The in-process cache is shared with the querier's resolver: the symbolizer writes what it reads.
        SymbolizerModule.forRoot(symbolizerOptionsFrom({ ...cfg, symbolizerCacheDir: cfg.symbolizerCacheDir || join(dataDir, 'symbolizer-cache') })),
      ],
      async close() {
        await opened.close();
        await natsProcess?.stop();
      },
      banner: () => quickStart(cfg, dataDir, first),
      readMaxBytes: cfg.maxRequestBytes,
    };
  },
};

function quickStart(cfg: AllInOneConfig, dataDir: string, t: { tokenFile: string; created?: string }): string {
  const base = `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${cfg.port}`;
  const tokenLine = t.created
    ? `  API token (tenant "${DEFAULT_TENANT}", shown once; also in ${t.tokenFile}):\n    ${t.created}`
    : `  API token: in ${t.tokenFile}`;
  return [
    '',
    `Firn all-in-one is ready on ${base} (gRPC, gRPC-web, Connect and HTTP on one port)`,
    `  web UI:    ${base}/  (sign in with the API token below)`,
    `  data:      ${dataDir}`,
    tokenLine,
    `  check it:  curl -s -H "Authorization: Bearer $(cat ${t.tokenFile})" ${base}/api/v1/whoami`,
    `  health:    ${base}/readyz   metrics: ${base}/metrics`,
    '',
  ].join('\n');
}
