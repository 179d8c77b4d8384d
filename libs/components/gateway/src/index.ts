export { GatewayModule } from './gateway.module';
export { gatewayConfig, gatewayServer } from './gateway.server';
export { gatewayOptionsFrom, gatewaySettings } from './gateway.settings';
export { debuginfoOptionsFrom, debuginfoSettings } from './debuginfo/debuginfo.settings';
export { scrapeOptionsFrom, scrapeSettings } from './scrape/scrape.settings';
