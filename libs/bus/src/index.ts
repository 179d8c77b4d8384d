export { Bus, connectBus, type StreamFollower, type StreamSpec } from './bus';
export { BusKv } from './bus-kv';
export { CasConflictError, isCasConflict } from './cas-conflict';
export { Leases, type Lease } from './leases';
export type { BusMessage, ConsumerHandle } from './bus-consumer';
export { startNatsServer, type NatsServerProcess } from './nats-server-process';
