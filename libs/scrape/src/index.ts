export { parseScrapeConfig, type ProfileEndpoint, type ScrapeConfig } from './scrape-config';
export { type Target, type DroppedTarget } from './targets';
export { ScrapeCoordinator, type TargetStatus } from './coordinator';
export { Scraper, type ScrapeObserver, type ScrapeOutcome } from './scraper';
