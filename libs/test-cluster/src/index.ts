export { eventually, startTestCluster, type ClusterComponent, type TestCluster } from './cluster';
export { CLUSTER_CPU_TYPE, clusterWrite, queryMergeTotal } from './profiles';
export { storedTotals } from './stored';
