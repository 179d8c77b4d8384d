export { ErrorCode, FirnError, isFirnError } from './firn-error';
