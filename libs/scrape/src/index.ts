export { PROFILE_NAMES, parseScrapeConfig, type ProfileName, type ProfileEndpoint, type ScrapeConfig, type StaticConfig, type FileSdConfig, type KubernetesSdConfig } from './scrape-config';
export { FileDiscoverer, KubernetesDiscoverer, StaticDiscoverer, parseFileGroups, type Discoverer, type TargetGroup } from './discovery';
export { buildTargets, type Target, type DroppedTarget } from './targets';
export { CumulativeDeltas, isCumulativeAtSource } from './delta';
export { ScrapeCoordinator, type CoordinatorOptions, type TargetStatus } from './coordinator';
export { Scraper, type ScraperOptions, type ScrapeSink, type ScrapeObserver, type ScrapeOutcome } from './scraper';
