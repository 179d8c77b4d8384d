export { createDemangler, isMangled, tidyRust, type Demangler, type DemanglerOptions, type DemanglerStats } from './demangle';
