import { z } from 'zod';
import { setting } from '@firn/config';

/** Where the gateway finds the built web UI (`npm run build:web` → dist/web). */
export function webUiSettings() {
  return {
    uiDir: setting({
      env: 'FIRN_UI_DIR',
      flag: 'ui-dir',
      schema: z.string(),
      default: '',
      description: 'Directory of the built web UI (index.html + assets/), served at /; empty = dist/web of this installation; off = no UI.',
    }),
  };
}
