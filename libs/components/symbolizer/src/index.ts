export { SymbolizerModule } from './symbolizer.module';
export { DEFAULT_SYMBOLIZER_OPTIONS, type SymbolizerOptions } from './symbolizer.options';
export { symbolizerConfig, symbolizerServer } from './symbolizer.server';
export { symbolizerOptionsFrom, symbolizerSettings, type SymbolizerSettings } from './symbolizer.settings';
export { SymbolizerService } from './symbolizer.service';
