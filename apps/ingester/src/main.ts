// firn-ingester: a thin entry point; the component lives in libs/components/ingester.
import { ingesterServer } from '@firn/ingester';
import { main } from '@firn/server-runtime';

main(ingesterServer, process.argv.slice(2), process.env);
