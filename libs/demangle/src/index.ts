export { createDemangler, isMangled, withoutCloneSuffix, type Demangler } from './demangle';
