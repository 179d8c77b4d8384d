export { OnePortServer } from './one-port-server';
export { Readiness } from './readiness';
export { binaryResponse } from './response-format';
export { main, runServer, type BaseServerConfig, type RunningServer, type ServerSpec } from './run-server';
export { CRASH, LOGGER, METRICS, READINESS, RpcRegistry, TRACER, type Crash, type RuntimeContext } from './runtime.module';
export { startRpcTestServer } from './rpc-test-server';
