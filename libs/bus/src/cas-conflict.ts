import { ErrorCode, FirnError } from '@firn/errors';

/**
 * A compare-and-set lost: the key or subject was written after the revision the caller read
 * (JetStream "wrong last sequence", API error 10071). Every conditional write through `Bus`
 * (KV create/update/delete at a revision, publish with `expectLastSubjectSeq`) fails with this
 * and nothing else when the condition does not hold; callers re-read and retry, or give up.
 * Its code is `aborted`, the gRPC code for a lost concurrency check.
 */
export class CasConflictError extends FirnError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.Aborted, message, cause === undefined ? {} : { cause });
    this.name = 'CasConflictError';
  }
}

export function isCasConflict(err: unknown): err is CasConflictError {
  return err instanceof CasConflictError;
}
