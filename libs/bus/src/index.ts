export {
  Bus,
  connectBus,
  type BusKv,
  type ConnectBusOptions,
  type KvBucketOptions,
  type PublishAck,
  type PublishOptions,
  type StreamSpec,
  type StreamState,
} from './bus';
export { Leases, type Lease, type LeasesOptions } from './leases';
export type { BusHandler, BusMessage, ConsumeOptions, ConsumerHandle } from './bus-consumer';
export {
  startNatsServer,
  type NatsServerExit,
  type NatsServerProcess,
  type StartNatsServerOptions,
} from './nats-server-process';
