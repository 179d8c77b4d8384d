// firn-symbolizer: a thin entry point; the component lives in libs/components/symbolizer.
import { symbolizerServer } from '@firn/symbolizer';
import { main } from '@firn/server-runtime';

main(symbolizerServer, process.argv.slice(2), process.env);
