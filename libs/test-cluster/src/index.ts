export { eventually, metricValue, startTestCluster, type ClusterComponent, type StartComponentOptions, type TestCluster, type TestClusterOptions } from './cluster';
export { CLUSTER_CPU_TYPE, clusterWrite, queryMergeTotal } from './profiles';
export { startTcpProxy, type TcpProxy } from './tcp-proxy';
export { storedTotals } from './stored';
