export { allInOneConfig, allInOneServer } from './all-in-one.server';
