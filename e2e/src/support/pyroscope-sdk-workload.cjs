// A CPU-busy Node.js service profiled by the real @pyroscope/nodejs SDK, as a user would set it
// up: wall (with CPU time) and heap profiles, pushed to PYROSCOPE_SERVER_ADDRESS every flush.
// Two "spans" are tagged the way the Pyroscope SDKs' OpenTelemetry integrations tag them (pprof
// labels span_id and span_name): `hotPath` does 3 times the work of `coldPath` (a fixed number of
// iterations, not a wall-clock time, so the 3:1 CPU split holds on a loaded machine).
// It runs until it has used CPU_TARGET_MS of CPU (and at least DURATION_MS): the profiles then
// hold about as many CPU samples on a loaded machine as on an idle one, so the measured split is
// as precise (a fixed wall time gave ~40 samples under load, too few for a stable ratio).
//
// Env: PYROSCOPE_SERVER_ADDRESS, APP_NAME, AUTH (bearer|basic), TOKEN, BASIC_USER, TENANT_ID
// (sent as X-Scope-OrgID; Firn ignores it), SPAN_HOT, SPAN_COLD, DURATION_MS (minimum wall
// time), CPU_TARGET_MS (CPU to use before stopping), MAX_DURATION_MS (stop anyway).
'use strict';
const Pyroscope = require('@pyroscope/nodejs');

const env = process.env;
const FLUSH_MS = 2000;
const auth = env.AUTH === 'basic' ? { basicAuthUser: env.BASIC_USER, basicAuthPassword: env.TOKEN } : { authToken: env.TOKEN };
Pyroscope.init({
  serverAddress: env.PYROSCOPE_SERVER_ADDRESS,
  appName: env.APP_NAME,
  ...auth,
  tenantID: env.TENANT_ID || undefined,
  flushIntervalMs: FLUSH_MS,
  tags: { env: 'e2e' },
  wall: { collectCpuTime: true },
  heap: { samplingIntervalBytes: 16 * 1024 },
});
Pyroscope.start();

const retained = [];
let sink = 0;

function spin(iterations) {
  let x = sink;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  sink = x;
}

function hotPath() {
  spin(6_000_000);
}

function coldPath() {
  spin(2_000_000);
}

/** Allocations kept alive, so the heap profile has something in use. */
function allocateBuffers() {
  for (let i = 0; i < 4; i++) retained.push(new Array(1024).fill(i));
  if (retained.length > 2000) retained.splice(0, 1000);
}

async function main() {
  const started = Date.now();
  const until = started + Number(env.DURATION_MS || 7000);
  const deadline = started + Number(env.MAX_DURATION_MS || 120_000);
  const cpuTargetUs = Number(env.CPU_TARGET_MS || 1500) * 1000;
  const cpu0 = process.cpuUsage();
  const enoughWork = () => {
    const c = process.cpuUsage(cpu0);
    return (Date.now() >= until && c.user + c.system >= cpuTargetUs) || Date.now() >= deadline;
  };
  // Stop mid-way between two flushes: the SDK's stop() races a flush already queued for the heap
  // profiler, which then throws "Heap profiler is not enabled" outside any promise (an SDK bug).
  const midInterval = () => {
    const phase = (Date.now() - started) % FLUSH_MS;
    return phase > FLUSH_MS * 0.3 && phase < FLUSH_MS * 0.7;
  };
  while (!enoughWork() || !midInterval()) {
    Pyroscope.wrapWithLabels({ span_id: env.SPAN_HOT, span_name: 'GET /hot' }, hotPath);
    Pyroscope.wrapWithLabels({ span_id: env.SPAN_COLD, span_name: 'GET /cold' }, coldPath);
    allocateBuffers();
    // Yield so the SDK's flush timer runs, as in a real service between requests.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setImmediate(resolve));
  await Pyroscope.stop();
  const c = process.cpuUsage(cpu0);
  process.stdout.write(`done ${sink}: ${Date.now() - started} ms, CPU ${Math.round((c.user + c.system) / 1000)} ms\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
