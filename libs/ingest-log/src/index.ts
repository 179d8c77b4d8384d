export { INGEST_CONSUMER, INGEST_STREAM, appendIngest, ingestStreamSpec, readIngest, type AppendResult } from './ingest-log';
