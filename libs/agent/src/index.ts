export { agentConfig } from './agent.settings';
export { runAgentMain } from './agent.process';
export { parseRelabelConfigs } from '@firn/profiles';
export { tableKernelBytes } from './unwind/unwind-maps';
