export { GatewayModule } from './gateway.module';
export { gatewayConfig, gatewayServer } from './gateway.server';
