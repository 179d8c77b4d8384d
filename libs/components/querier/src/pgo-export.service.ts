import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FirnError } from '@firn/errors';
import { DebuginfoFinder, DebuginfoStore, DebuginfodCache, DiskCache } from '@firn/debuginfo';
import {
  addressesOf,
  binarySamples,
  buildGoPgoProfile,
  buildLlvmSampleProfile,
  chooseBuildId,
  cpuValueKind,
  periodGroups,
  type BinaryChoice,
} from '@firn/insights';
import { OBJECT_STORE } from '@firn/platform';
import { PERIOD_GROUP } from '@firn/query';
import type { ObjectStore } from '@firn/storage';
import { LlvmSymbolizer } from '@firn/symbols';
import type { TenantId } from '@firn/tenancy';
import { profileTypeOf, type InsightSelection } from './insights.service';
import { QUERIER_OPTIONS, type QuerierOptions } from './querier.options';
import { QueryFrontend } from './query-frontend';

export interface PgoExport {
  profile: Uint8Array;
  fileName: string;
  buildId: string;
  mappingFile: string;
  selectionSamples: number;
  binarySamples: number;
  exportedSamples: number;
  unresolvedSamples: number;
  functions: number;
  debuginfoSource: string;
}

/**
 * PGO export: merges the selection WITHOUT query-time symbolization (frames keep their build id
 * and file offset), keeps the frames of the chosen binary, finds the binary's debug info (the
 * tenant's upload, else a debuginfod file the symbolizers already cached in object storage) and
 * resolves every sampled address with llvm-symbolizer, which gives what both PGO formats need
 * and the symbol cache does not hold: linkage names, discriminators and each function's start
 * line (DW_AT_decl_line). Then renders Go's `default.pgo` or LLVM's sample profile text.
 */
@Injectable()
export class PgoExportService {
  private readonly finder: DebuginfoFinder;
  private readonly symbolizer: LlvmSymbolizer;

  constructor(
    private readonly frontend: QueryFrontend,
    @Inject(OBJECT_STORE) store: ObjectStore,
    @Inject(QUERIER_OPTIONS) opts: QuerierOptions,
  ) {
    const o = opts.insights;
    this.finder = new DebuginfoFinder({
      uploads: new DebuginfoStore({ store, maxUploadBytes: Number.MAX_SAFE_INTEGER, staleUploadMs: Number.MAX_SAFE_INTEGER }),
      // No debuginfod client here: queriers never go to the network for debug info; the
      // symbolizers' downloads are shared through object storage.
      debuginfod: new DebuginfodCache(store, undefined),
      disk: new DiskCache({ dir: o?.pgoCacheDir || join(tmpdir(), `firn-pgo-cache-${process.pid}`), maxBytes: o?.pgoCacheBytes ?? 2 * 1024 ** 3 }),
    });
    this.symbolizer = new LlvmSymbolizer({ path: o?.llvmSymbolizer || 'llvm-symbolizer' });
  }

  async export(tenant: TenantId, sel: InsightSelection, choice: BinaryChoice, format: 'go' | 'llvm', signal: AbortSignal): Promise<PgoExport> {
    const kind = cpuValueKind(profileTypeOf(sel.selector));
    const merged = await this.frontend.mergeGrouped(tenant, sel, [PERIOD_GROUP], { symbolize: false, signal });
    const cells = periodGroups(merged.groups, [], PERIOD_GROUP);
    const buildId = chooseBuildId(cells, choice);
    const b = binarySamples(cells, buildId, kind);
    if (b.binarySamples === 0) {
      throw new FirnError(ErrorCode.NotFound, `no samples of build id ${buildId} in the selection (${b.totalSamples} samples of other binaries)`);
    }
    const found = await this.finder.find(tenant, buildId);
    if (found.status === 'unavailable') throw FirnError.unavailable(`debug info of build id ${buildId} is unavailable right now: ${found.reason}`);
    if (found.status === 'not_found') {
      throw new FirnError(
        ErrorCode.FailedPrecondition,
        `no debug info for build id ${buildId}: upload it (agent --debuginfo-upload, or Parca's DebuginfoService) so its addresses can be placed by function and line`,
      );
    }
    const { leaves, returns } = addressesOf(b);
    const resolved = await this.symbolizer.resolve(found.files, leaves, returns, { signal });
    const exe = basename(b.mappingFile) || buildId.slice(0, 12);
    const common = {
      buildId,
      mappingFile: b.mappingFile,
      selectionSamples: b.totalSamples,
      binarySamples: b.binarySamples,
      debuginfoSource: found.files.source,
    };
    if (format === 'llvm') {
      const { text, stats } = buildLlvmSampleProfile(b, resolved);
      return {
        ...common,
        profile: Buffer.from(text, 'utf8'),
        fileName: `${exe}.prof`,
        exportedSamples: stats.samples,
        unresolvedSamples: stats.unresolvedSamples,
        functions: stats.functions,
      };
    }
    const { profile, stats } = buildGoPgoProfile(b, resolved, { startMs: sel.startMs, durationMs: sel.endMs - sel.startMs });
    return {
      ...common,
      profile,
      fileName: 'default.pgo',
      exportedSamples: stats.samples,
      unresolvedSamples: stats.unresolvedSamples,
      functions: stats.functions,
    };
  }
}
