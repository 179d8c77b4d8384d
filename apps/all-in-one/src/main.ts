// firn all-in-one: every server component in one process (the default of `npm start`).
import { main } from '@firn/server-runtime';
import { allInOneServer } from '@firn/all-in-one';

main(allInOneServer, process.argv.slice(2), process.env);
