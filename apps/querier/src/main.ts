// firn-querier: a thin entry point; the component lives in libs/components/querier.
import { querierServer } from '@firn/querier';
import { main } from '@firn/server-runtime';

main(querierServer, process.argv.slice(2), process.env);
