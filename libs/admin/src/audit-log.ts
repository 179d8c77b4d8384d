import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@firn/observability';
import type { TenantId } from '@firn/tenancy';

export interface AuditEntry {
  /** Token id of the caller ("bootstrap" for the bootstrap admin secret). */
  who: string;
  /** e.g. tenant.create, token.create, token.revoke. */
  what: string;
  tenant?: TenantId;
  /** The token the action was about (never a secret). */
  tokenId?: string;
  outcome: 'ok' | 'error';
  error?: string;
}

/**
 * Admin actions as JSON lines, appended to a file (when configured) and to the structured log.
 * Writes are serialized so lines never interleave.
 */
export class AuditLog {
  private chain: Promise<void> = Promise.resolve();
  private dirReady: Promise<unknown> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly file: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  record(e: AuditEntry): Promise<void> {
    const line = { when: this.clock().toISOString(), ...e };
    this.log.info({ audit: line }, `admin ${e.what} ${e.outcome}`);
    if (!this.file) return Promise.resolve();
    this.dirReady ??= mkdir(dirname(this.file), { recursive: true });
    this.chain = this.chain
      .then(() => this.dirReady)
      .then(() => appendFile(this.file, `${JSON.stringify(line)}\n`, { mode: 0o600 }))
      .catch((err: unknown) => this.log.error({ err, file: this.file }, 'writing the audit log failed'));
    return this.chain;
  }
}
