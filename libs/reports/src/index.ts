export type { StackProfile } from './stack-profile';
