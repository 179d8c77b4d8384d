export { DEFAULT_TENANT, allInOneConfig, allInOneServer, readDefaultToken } from './all-in-one.server';
