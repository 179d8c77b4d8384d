export { freePort } from './free-port';
export { startS3Server, type S3Server } from './s3-server';
export { startNats, type TestNats } from './nats';
export * from './redis';
export { startDebuginfod, type TestDebuginfod } from './debuginfod';
export * from './require-binary';
export { spawnServer, withPortRetry, makeTempDir, removeDir, type ServerProcess } from './child-process';
export { mulberry32, type Rng } from './prng';
export { buildTestProgram, type TestProgram } from './c-program';
export { grpcFrame, gzipBomb, processMemory, rawGrpc, resetPeakMemory } from './hostile-input';
export {
  deepFolded,
  deepStackArrow,
  deepStackPprof,
  hugeLocationTablePprof,
  hugeStringTablePprof,
  manyDeepStacksPprof,
  manyFoldedStacks,
  manyFramesArrow,
  manyLabelsPprof,
  manySeriesPprof,
  type HostileShape,
} from './hostile-shapes';
export { launchBrowser, type BrowserSession } from './browser';
export { compileC, bpfUnavailable, compareSpeed, pgoRoundTrip, textOf, type PgoRoundTrip } from './pgo-roundtrip';
export { makeTokens } from './tokens';
export { metricValue } from './metrics-text';
export { retryRefusedStreams } from './refused-stream';
