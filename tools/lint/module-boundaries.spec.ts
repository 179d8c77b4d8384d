import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Proof that the module-boundary rules really restrict: each probe file is linted as if it sat at
 * the given path. The rule silently skips itself without a project graph, so we build one first
 * and also assert that a forbidden import is reported (a skipped rule would fail these tests).
 */
const root = resolve(__dirname, '..', '..');
let eslint: ESLint;

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, filePath) });
  return result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

describe('module boundaries', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [resolve(root, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NX_DAEMON: 'false' },
    });
    eslint = new ESLint({ cwd: root });
  }, 120_000);

  it('rejects an agent file importing a server library', async () => {
    const errors = await boundaryErrors('apps/agent/src/probe.ts', "import { createObjectStore } from '@firn/storage';\nexport const x = createObjectStore;\n");
    expect(errors.join('\n')).toMatch(/scope:agent.*can only depend on libs tagged with "scope:agent", "scope:shared"/);
  });

  it('rejects a library importing an app', async () => {
    const errors = await boundaryErrors('libs/storage/src/probe.ts', "import '../../../apps/gateway/src/main';\n");
    expect(errors.length).toBeGreaterThan(0);
  });

  it('rejects a lower layer importing a higher one (util → data)', async () => {
    const errors = await boundaryErrors(
      'libs/server-runtime/src/probe.ts',
      "import { createObjectStore } from '@firn/storage';\nexport const x = createObjectStore;\n",
    );
    expect(errors.join('\n')).toMatch(/type:util.*can only depend on libs tagged with "type:util", "type:proto"/);
  });

  it('rejects production code importing the test harness', async () => {
    const errors = await boundaryErrors('libs/storage/src/probe.ts', "import { freePort } from '@firn/testing';\nexport const x = freePort;\n");
    expect(errors.length).toBeGreaterThan(0);
  });

  it('rejects the web UI importing anything but the generated API contracts', async () => {
    const errors = await boundaryErrors('apps/web/src/probe.tsx', "import { FirnError } from '@firn/errors';\nexport const x = FirnError;\n");
    expect(errors.join('\n')).toMatch(/scope:web.*can only depend on libs tagged with "type:proto"/);
    expect(await boundaryErrors('apps/web/src/probe.tsx', "import { queryV1alpha1 } from '@firn/proto';\nexport const x = queryV1alpha1;\n")).toEqual([]);
  });

  it('rejects an ingest API appending to the ingest log around the pipeline (which derives the idempotency key)', async () => {
    const probe = "import { appendIngest } from '@firn/ingest-log';\nexport const x = appendIngest;\n";
    const restricted = async (filePath: string) => {
      const [result] = await eslint.lintText(probe, { filePath: resolve(root, filePath) });
      return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
    };
    expect((await restricted('libs/components/gateway/src/ingest/otlp.rpc.ts')).join('\n')).toMatch(/IngestPipeline\.accept/);
    expect((await restricted('libs/components/all-in-one/src/probe.ts')).join('\n')).toMatch(/IngestPipeline\.accept/);
    expect(await restricted('libs/components/gateway/src/ingest/ingest-pipeline.ts')).toEqual([]);
  });

  it('rejects the NATS SDK outside libs/bus, in tests too', async () => {
    const probe = "import { connect } from 'nats';\nexport const x = connect;\n";
    const restricted = async (filePath: string) => {
      const [result] = await eslint.lintText(probe, { filePath: resolve(root, filePath) });
      return result.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
    };
    expect((await restricted('libs/manifest/src/probe.ts')).join('\n')).toMatch(/Only libs\/bus touches the NATS SDK/);
    expect((await restricted('libs/manifest/src/probe.int-spec.ts')).join('\n')).toMatch(/Only libs\/bus touches the NATS SDK/);
    expect((await restricted('e2e/src/probe.e2e-spec.ts')).join('\n')).toMatch(/Only libs\/bus touches the NATS SDK/);
    expect(await restricted('libs/bus/src/probe.ts')).toEqual([]);
  });

  it('rejects a component importing another component (what they share belongs in a library)', async () => {
    const fromQuerier = await boundaryErrors(
      'libs/components/querier/src/probe.ts',
      "import { compactorSettings } from '@firn/compactor';\nexport const x = compactorSettings;\n",
    );
    expect(fromQuerier.join('\n')).toMatch(/tagged with "kind:component" can not depend on libs tagged with "kind:component"/);
    const fromGateway = await boundaryErrors(
      'libs/components/gateway/src/probe.ts',
      "import { querierSettings } from '@firn/querier';\nexport const x = querierSettings;\n",
    );
    expect(fromGateway.join('\n')).toMatch(/kind:component/);
    // Tests may start other components (the in-process cluster); production code of a component may not.
    expect(
      await boundaryErrors(
        'libs/components/querier/src/probe.int-spec.ts',
        "import { ingesterServer } from '@firn/ingester';\nexport const x = ingesterServer;\n",
      ),
    ).toEqual([]);
    // Shared libraries stay allowed, and the all-in-one wires every component.
    expect(
      await boundaryErrors(
        'libs/components/gateway/src/probe.ts',
        "import { AdminModule } from '@firn/admin';\nimport { limitsSettings } from '@firn/limits';\nexport const x = [AdminModule, limitsSettings];\n",
      ),
    ).toEqual([]);
    expect(
      await boundaryErrors(
        'libs/components/all-in-one/src/probe.ts',
        "import { compactorSettings } from '@firn/compactor';\nimport { querierSettings } from '@firn/querier';\nexport const x = [compactorSettings, querierSettings];\n",
      ),
    ).toEqual([]);
  });

  it('accepts an app importing its own component library and shared libs', async () => {
    const errors = await boundaryErrors(
      'apps/gateway/src/probe.ts',
      "import { gatewayServer } from '@firn/gateway';\nimport { FirnError } from '@firn/errors';\nexport const x = [gatewayServer, FirnError];\n",
    );
    expect(errors).toEqual([]);
  });
});
