import { Counter, metricName, type Registry } from '@firn/observability';

/** The gateway's DebuginfoService (`firn_gateway_debuginfo_*`). */
export class DebuginfoMetrics {
  readonly calls: Counter<'method' | 'outcome'>;
  readonly uploadedBytes: Counter;

  constructor(registry: Registry) {
    this.calls = new Counter({
      name: metricName('gateway', 'debuginfo_calls_total'),
      help: 'DebuginfoService calls by method and outcome (ok or an error code; should_upload/no_upload for ShouldInitiateUpload).',
      labelNames: ['method', 'outcome'],
      registers: [registry],
    });
    this.uploadedBytes = new Counter({
      name: metricName('gateway', 'debuginfo_uploaded_bytes_total'),
      help: 'Debuginfo bytes stored by the Upload stream.',
      registers: [registry],
    });
  }
}
