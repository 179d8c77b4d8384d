import { z } from 'zod';
import { bool, durationMs, logLevel, nonEmpty, port, positiveInt, setting, urlList } from './config';

/**
 * Setting groups shared by every server component. Each app composes its schema from these
 * (plus its own), so the same concern is spelled the same way everywhere.
 */
export function serverSettings(defaultPort: number) {
  return {
    host: setting({ env: 'FIRN_HOST', flag: 'host', schema: nonEmpty, default: '127.0.0.1', description: 'Address to listen on (use 0.0.0.0 in containers).' }),
    port: setting({
      env: 'FIRN_PORT',
      flag: 'port',
      schema: port,
      default: String(defaultPort),
      description: 'One port for gRPC, gRPC-web, Connect and HTTP (0 = pick a free one).',
    }),
    logLevel: setting({ env: 'FIRN_LOG_LEVEL', flag: 'log-level', schema: logLevel, default: 'info', description: 'Minimum log level (JSON logs on stdout).' }),
    shutdownTimeoutMs: setting({
      env: 'FIRN_SHUTDOWN_TIMEOUT_MS',
      flag: 'shutdown-timeout-ms',
      schema: durationMs,
      default: '25000',
      description: 'How long a SIGTERM may spend draining and flushing before exiting anyway.',
    }),
    otlpEndpoint: setting({
      env: 'FIRN_OTLP_ENDPOINT',
      flag: 'otlp-endpoint',
      schema: z.string(),
      default: '',
      description: 'OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); empty = tracing on, export off.',
    }),
    traceSampleRatio: setting({
      env: 'FIRN_TRACE_SAMPLE_RATIO',
      flag: 'trace-sample-ratio',
      schema: z.coerce.number().min(0).max(1),
      default: '1',
      description: 'Share of root traces sampled.',
    }),
    heapGrowingPercent: setting({
      env: 'FIRN_HEAP_GROWING_PERCENT',
      flag: 'heap-growing-percent',
      schema: z.coerce.number().int().min(0).max(1000),
      default: '100',
      description:
        "How far V8's JS heap may grow past what the last full garbage collection kept before the next one starts, in per cent (V8's --heap-growing-percent). 0 leaves V8's adaptive factor, which at a steady low request rate falls to its minimum (1.1×, at least 8 MB) and then runs a full collection every second or two; 100 measured 1.5-1.6× the write path's samples per CPU-second at a fleet's rate, for 10-25 MiB more peak RSS in the gateway and the ingester (docs/benchmarks.md). Set by a server that owns its process, not by one embedded in tests.",
    }),
  };
}

export const storageKind = z.enum(['local', 's3']);

export function storageSettings() {
  return {
    storage: setting({
      env: 'FIRN_STORAGE',
      flag: 'storage',
      schema: storageKind,
      default: 'local',
      description: 'Object storage backend: local (a directory) or s3.',
    }),
    dataDir: setting({
      env: 'FIRN_DATA_DIR',
      flag: 'data-dir',
      schema: nonEmpty,
      default: './.firn/data',
      description: 'Local data directory (objects when storage=local, NATS data in the all-in-one).',
    }),
    s3Endpoint: setting({
      env: 'FIRN_S3_ENDPOINT',
      flag: 's3-endpoint',
      schema: z.string(),
      default: '',
      description: 'S3 endpoint URL (empty = AWS default for the region).',
    }),
    s3Region: setting({ env: 'FIRN_S3_REGION', flag: 's3-region', schema: nonEmpty, default: 'us-east-1', description: 'S3 region.' }),
    s3Bucket: setting({ env: 'FIRN_S3_BUCKET', flag: 's3-bucket', schema: z.string(), default: '', description: 'S3 bucket (required when storage=s3).' }),
    s3Prefix: setting({ env: 'FIRN_S3_PREFIX', flag: 's3-prefix', schema: z.string(), default: '', description: 'Key prefix inside the bucket.' }),
    s3AccessKeyId: setting({
      env: 'FIRN_S3_ACCESS_KEY_ID',
      flag: 's3-access-key-id',
      schema: z.string(),
      default: '',
      description: 'S3 access key id (empty = SDK default chain).',
      secret: true,
    }),
    s3SecretAccessKey: setting({
      env: 'FIRN_S3_SECRET_ACCESS_KEY',
      flag: 's3-secret-access-key',
      schema: z.string(),
      default: '',
      description: 'S3 secret access key.',
      secret: true,
    }),
    s3ForcePathStyle: setting({
      env: 'FIRN_S3_FORCE_PATH_STYLE',
      flag: 's3-force-path-style',
      schema: bool,
      default: 'true',
      description: 'Path-style addressing (MinIO, Ceph, test servers).',
    }),
  };
}

export function natsSettings() {
  return {
    natsUrl: setting({
      env: 'FIRN_NATS_URL',
      flag: 'nats-url',
      schema: urlList,
      default: 'nats://127.0.0.1:4222',
      description: 'NATS server URL(s), comma-separated; JetStream must be enabled.',
    }),
    natsToken: setting({ env: 'FIRN_NATS_TOKEN', flag: 'nats-token', schema: z.string(), default: '', description: 'NATS auth token.', secret: true }),
    natsReplicas: natsReplicasSetting(),
  };
}

/**
 * Replicas of every JetStream stream and KV bucket Firn creates: the durability contract. 1 on a
 * single NATS server; 3 on a 3-node JetStream cluster, where an acked message survives one lost
 * server. Existing streams and buckets are moved to this count at start.
 */
export function natsReplicasSetting() {
  return setting({
    env: 'FIRN_NATS_REPLICAS',
    flag: 'nats-replicas',
    schema: positiveInt,
    default: '1',
    description: 'Replicas of every JetStream stream and KV bucket (1 for one NATS server, 3 for a 3-node cluster: survives one lost server).',
  });
}

export function redisSettings() {
  return {
    symbolCache: setting({
      env: 'FIRN_SYMBOL_CACHE',
      flag: 'symbol-cache',
      schema: z.enum(['redis', 'memory']),
      default: 'redis',
      description: 'Symbol cache backend: redis (shared) or memory (in-process LRU).',
    }),
    redisUrl: setting({
      env: 'FIRN_REDIS_URL',
      flag: 'redis-url',
      schema: z.string(),
      default: 'redis://127.0.0.1:6379',
      description: 'Redis URL for the symbol cache.',
    }),
    memoryCacheBytes: setting({
      env: 'FIRN_MEMORY_CACHE_BYTES',
      flag: 'memory-cache-bytes',
      schema: positiveInt,
      default: String(256 * 1024 * 1024),
      description: 'Size bound of the in-process symbol cache.',
    }),
  };
}

export function authSettings() {
  return {
    tokensFile: setting({
      env: 'FIRN_TOKENS_FILE',
      flag: 'tokens-file',
      schema: z.string(),
      default: '',
      description: 'JSON file of API tokens (hashes) → tenant and scopes. Empty = none.',
    }),
  };
}
