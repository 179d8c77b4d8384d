export {
  Bus,
  connectBus,
  type ConnectBusOptions,
  type ConsumerState,
  type FollowOptions,
  type KvBucketOptions,
  type PublishAck,
  type PublishOptions,
  type StreamFollower,
  type StreamInfo,
  type StreamMessage,
  type StreamSpec,
  type StreamState,
} from './bus';
export { BusKv, type BusKvChange, type BusKvEntry, type BusKvWatch } from './bus-kv';
export { CasConflictError, isCasConflict } from './cas-conflict';
export { Leases, type Lease, type LeasesOptions } from './leases';
export type { BusHandler, BusMessage, ConsumeOptions, ConsumerHandle } from './bus-consumer';
export {
  startNatsServer,
  type NatsServerExit,
  type NatsServerProcess,
  type StartNatsServerOptions,
} from './nats-server-process';
