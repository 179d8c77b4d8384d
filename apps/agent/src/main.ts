// firn-agent: a thin entry point; the agent lives in libs/agent.
import { runAgentMain } from '@firn/agent';

runAgentMain(process.argv.slice(2), process.env);
