import type { Frame } from '@firn/profiles';
import { basename } from './profile-input';

/**
 * The label Grafana's Parca data source gives a flame graph node (pkg/tsdb/parca nodeName):
 * `[<basename of mapping_file>] ` when the row has a mapping file, then the function name, or
 * `0x<hex address>` when the function name is empty. Our flame graph writes a null mapping
 * file for `mappingFile === ''`, so no `[] ` prefix appears.
 */
export function frameLabel(frame: Frame): string {
  const prefix = frame.mappingFile === '' ? '' : `[${basename(frame.mappingFile)}] `;
  if (frame.functionName !== '') return prefix + frame.functionName;
  return `${prefix}0x${frame.address.toString(16)}`;
}

/** Unnamed frames' names, kept per Frame object (frames are never changed; a querier meets the same ones query after query). */
const addressNames = new WeakMap<Frame, string>();

/**
 * The name Pyroscope gives a frame in its function-name tree: the function name, or for an
 * unsymbolized frame `<binary>!0x<hex address>` (symbolref.FallbackSymbolName), `unknown`
 * standing in for a missing binary name.
 */
export function pyroscopeFrameName(frame: Frame): string {
  if (frame.functionName !== '') return frame.functionName;
  let name = addressNames.get(frame);
  if (name === undefined) {
    const bin = frame.mappingFile === '' ? 'unknown' : basename(frame.mappingFile);
    addressNames.set(frame, (name = `${bin}!0x${frame.address.toString(16)}`));
  }
  return name;
}
