// firn-gateway: a thin entry point; the component lives in libs/components/gateway.
import { gatewayServer } from '@firn/gateway';
import { main } from '@firn/server-runtime';

main(gatewayServer, process.argv.slice(2), process.env);
