export { ErrorCode, FirnError, isFirnError, type FirnErrorOptions } from './firn-error';
