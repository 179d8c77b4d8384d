export {
  ConfigError,
  bool,
  configDocs,
  defineConfig,
  durationMs,
  loadConfig,
  logLevel,
  nonEmpty,
  parseFlags,
  port,
  positiveInt,
  setting,
  url,
  urlList,
  wantsHelp,
  type ConfigDefinition,
  type ConfigOf,
  type ConfigSources,
  type Setting,
  type SettingsDef,
} from './config';
export { authSettings, natsReplicasSetting, natsSettings, redisSettings, serverSettings, storageKind, storageSettings } from './settings';
export { duration, formatDuration, parseDuration, type DurationUnit } from './duration';
