export { createDemangler, isMangled, tidyRust, withoutCloneSuffix, type Demangler, type DemanglerOptions, type DemanglerStats } from './demangle';
