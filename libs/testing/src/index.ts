export { freePort } from './free-port';
export { startS3Server, type S3Server } from './s3-server';
export * from './nats';
export * from './redis';
export * from './debuginfod';
export * from './require-binary';
export * from './child-process';
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
export { CHROMIUM_FLAGS, CHROMIUM_PATH, launchBrowser, type BrowserSession } from './browser';
export * from './pgo-roundtrip';
export { makeTokens } from './tokens';
