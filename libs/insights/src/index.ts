export { cpuValueKind } from './cpu-time';
export { costReport, microsToAmount, nsToSeconds, periodGroups, type CostReport } from './cost/cost-report';
export { costCsv, costOpenMetrics, costPrometheus, type CostSeriesPoint } from './cost/cost-formats';
export { regressionReport, type Correction, type FunctionChange, type MetricChange, type Normalization, type RegressionReport } from './regression/regression';
export { addressesOf, binarySamples, chooseBuildId, type BinaryChoice } from './pgo/binary-samples';
export { buildLlvmSampleProfile } from './pgo/llvm-sample-profile';
export { buildGoPgoProfile } from './pgo/go-pgo';
export { manifestUsage } from './usage/manifest-usage';
export { QueryMeter, type QueryTotals } from './usage/query-meter';
export { QueryUsageStore, USAGE_KV_BUCKET } from './usage/query-usage-store';
export { USAGE_SOURCE, type TenantUsageFigures, type UsageReport, type UsageSource } from './usage/usage-source';
export {
  knownAfterReport,
  labelSightings,
  latestDeploy,
  parseDeployChecks,
  shouldClaim,
  type DeployCheck,
  type DeployClaim,
  type DeployComparison,
} from './regression/deploy-check';
