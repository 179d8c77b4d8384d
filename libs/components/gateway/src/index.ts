export { GatewayModule } from './gateway.module';
export { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
export { gatewayConfig, gatewayServer } from './gateway.server';
export { gatewayOptionsFrom, gatewaySettings } from './gateway.settings';
export { debuginfoOptionsFrom, debuginfoSettings } from './debuginfo/debuginfo.settings';
export { scrapeOptionsFrom, scrapeSettings } from './scrape/scrape.settings';
