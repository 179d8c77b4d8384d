export {
  ConfigError,
  bool,
  configDocs,
  defineConfig,
  durationMs,
  loadConfig,
  logLevel,
  nonEmpty,
  port,
  positiveInt,
  setting,
  url,
  wantsHelp,
  type ConfigDefinition,
  type ConfigOf,
  type Setting,
  type SettingsDef,
} from './config';
export { authSettings, natsReplicasSetting, natsSettings, redisSettings, serverSettings, storageSettings } from './settings';
export { duration, formatDuration, parseDuration } from './duration';
export { byteSize, byteSizeOrOff } from './byte-size';
