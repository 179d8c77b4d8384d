export { SymbolizerModule } from './symbolizer.module';
export { symbolizerConfig, symbolizerServer } from './symbolizer.server';
export { symbolizerOptionsFrom, symbolizerSettings } from './symbolizer.settings';
