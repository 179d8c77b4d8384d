// firn-compactor: a thin entry point; the component lives in libs/components/compactor.
import { compactorServer } from '@firn/compactor';
import { main } from '@firn/server-runtime';

main(compactorServer, process.argv.slice(2), process.env);
