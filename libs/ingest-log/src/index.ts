export { INGEST_CONSUMER, INGEST_STREAM, INGEST_SUBJECT_PREFIX, appendIngest, ingestStreamSpec, ingestSubject, readIngest, type AppendResult, type DecodedIngest } from './ingest-log';
