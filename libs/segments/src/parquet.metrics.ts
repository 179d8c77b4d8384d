import { Gauge, metricName, type Registry } from '@firn/observability';
import { parquetWasmMemoryBytes } from './parquet';

/**
 * `firn_<component>_parquet_wasm_memory_bytes`, read at scrape time: for every process that reads
 * or writes segments (ingester, querier, compactor), the memory RSS has and the JS heap does not.
 */
export function registerParquetMemoryGauge(registry: Registry, component: string): void {
  new Gauge({
    name: metricName(component, 'parquet_wasm_memory_bytes'),
    help: "Size of parquet-wasm's WebAssembly linear memory (outside the JS heap; it grows to a high-water mark and never shrinks).",
    registers: [registry],
    collect() {
      this.set(parquetWasmMemoryBytes());
    },
  });
}
