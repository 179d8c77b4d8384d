// Pins the parts of the public Parca and Pyroscope contracts that existing agents, SDKs and
// Grafana data sources depend on. The expected shapes were taken from the upstream .proto
// files (parca-dev/parca proto/, grafana/pyroscope api/); a failure here means our own .proto
// files drifted from the wire format those clients speak.
import { create, fromBinary, ScalarType, toBinary } from '@bufbuild/protobuf';
import type { DescEnum, DescField, DescMessage, DescService } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import {
  debuginfoV1alpha1,
  firnAdminUsageV1,
  firnIngestV1,
  firnInsightsV1,
  firnManifestV1,
  googleV1,
  profilestoreV1alpha1,
  pushV1,
  querierV1,
  queryV1alpha1,
  typesV1,
} from './index';

// Renders a field the way it is declared in a .proto file, so expectations read like the
// upstream source and a mismatch shows exactly which name, type or number differs.
function fieldLine(f: DescField): string {
  let type: string;
  let label = '';
  if (f.fieldKind === 'list') {
    label = 'repeated ';
    type = f.listKind === 'scalar' ? ScalarType[f.scalar].toLowerCase() : f.listKind === 'enum' ? f.enum.typeName : f.message.typeName;
  } else if (f.fieldKind === 'map') {
    type = `map<${ScalarType[f.mapKey].toLowerCase()}, ${f.mapKind === 'scalar' ? ScalarType[f.scalar].toLowerCase() : f.mapKind === 'enum' ? f.enum.typeName : f.message.typeName}>`;
  } else {
    label = f.proto.proto3Optional ? 'optional ' : '';
    type = f.fieldKind === 'scalar' ? ScalarType[f.scalar].toLowerCase() : f.fieldKind === 'enum' ? f.enum.typeName : f.message.typeName;
  }
  const oneof = f.fieldKind !== 'list' && f.fieldKind !== 'map' && f.oneof ? ` (oneof ${f.oneof.name})` : '';
  return `${label}${type} ${f.name} = ${f.number}${oneof}`;
}

function shape(schema: DescMessage): string[] {
  return schema.fields.map(fieldLine);
}

function values(schema: DescEnum): string[] {
  return schema.values.map((v) => `${v.name} = ${v.number}`);
}

function methods(service: DescService): string[] {
  return service.methods.map((m) => `${m.name}(${m.input.typeName}) ${m.methodKind} ${m.output.typeName}`);
}

const ps = 'parca.profilestore.v1alpha1';
const q = 'parca.query.v1alpha1';
const di = 'parca.debuginfo.v1alpha1';
const ts = 'google.protobuf.Timestamp';

describe('parca.profilestore.v1alpha1', () => {
  it('declares ProfileStoreService and AgentsService with the public methods', () => {
    expect(profilestoreV1alpha1.ProfileStoreService.typeName).toBe(`${ps}.ProfileStoreService`);
    expect(methods(profilestoreV1alpha1.ProfileStoreService)).toEqual([
      `WriteRaw(${ps}.WriteRawRequest) unary ${ps}.WriteRawResponse`,
      `Write(${ps}.WriteRequest) bidi_streaming ${ps}.WriteResponse`,
      `WriteArrow(${ps}.WriteArrowRequest) unary ${ps}.WriteArrowResponse`,
    ]);
    expect(methods(profilestoreV1alpha1.AgentsService)).toEqual([`Agents(${ps}.AgentsRequest) unary ${ps}.AgentsResponse`]);
  });

  it('matches the WriteRaw messages the Parca agent sends', () => {
    expect(shape(profilestoreV1alpha1.WriteRawRequestSchema)).toEqual([
      'string tenant = 1',
      `repeated ${ps}.RawProfileSeries series = 2`,
      'bool normalized = 3',
    ]);
    expect(profilestoreV1alpha1.WriteRawRequestSchema.field.tenant.deprecated).toBe(true);
    expect(shape(profilestoreV1alpha1.RawProfileSeriesSchema)).toEqual([`${ps}.LabelSet labels = 1`, `repeated ${ps}.RawSample samples = 2`]);
    expect(shape(profilestoreV1alpha1.RawSampleSchema)).toEqual(['bytes raw_profile = 1', `repeated ${ps}.ExecutableInfo executable_info = 2`]);
    expect(shape(profilestoreV1alpha1.ExecutableInfoSchema)).toEqual(['uint32 elf_type = 1', `${ps}.LoadSegment load_segment = 2`]);
    expect(shape(profilestoreV1alpha1.LoadSegmentSchema)).toEqual(['uint64 offset = 1', 'uint64 vaddr = 2']);
    expect(shape(profilestoreV1alpha1.LabelSetSchema)).toEqual([`repeated ${ps}.Label labels = 1`]);
    expect(shape(profilestoreV1alpha1.LabelSchema)).toEqual(['string name = 1', 'string value = 2']);
  });

  it('matches the Arrow write messages', () => {
    expect(shape(profilestoreV1alpha1.WriteArrowRequestSchema)).toEqual(['bytes ipc_buffer = 1']);
    expect(shape(profilestoreV1alpha1.WriteRequestSchema)).toEqual(['bytes record = 1']);
    expect(shape(profilestoreV1alpha1.WriteResponseSchema)).toEqual(['bytes record = 1']);
  });
});

describe('parca.query.v1alpha1', () => {
  it('declares QueryService with the public methods', () => {
    expect(queryV1alpha1.QueryService.typeName).toBe(`${q}.QueryService`);
    expect(methods(queryV1alpha1.QueryService)).toEqual([
      `QueryRange(${q}.QueryRangeRequest) unary ${q}.QueryRangeResponse`,
      `Query(${q}.QueryRequest) unary ${q}.QueryResponse`,
      `Series(${q}.SeriesRequest) unary ${q}.SeriesResponse`,
      `ProfileTypes(${q}.ProfileTypesRequest) unary ${q}.ProfileTypesResponse`,
      `Labels(${q}.LabelsRequest) unary ${q}.LabelsResponse`,
      `Values(${q}.ValuesRequest) unary ${q}.ValuesResponse`,
      `ShareProfile(${q}.ShareProfileRequest) unary ${q}.ShareProfileResponse`,
      `HasProfileData(${q}.HasProfileDataRequest) unary ${q}.HasProfileDataResponse`,
    ]);
  });

  it('matches QueryRequest fields 1 to 13', () => {
    expect(shape(queryV1alpha1.QueryRequestSchema)).toEqual([
      `${q}.QueryRequest.Mode mode = 1`,
      `${q}.DiffProfile diff = 2 (oneof options)`,
      `${q}.MergeProfile merge = 3 (oneof options)`,
      `${q}.SingleProfile single = 4 (oneof options)`,
      `${q}.QueryRequest.ReportType report_type = 5`,
      'optional string filter_query = 6',
      'optional float node_trim_threshold = 7',
      `optional ${q}.GroupBy group_by = 8`,
      `optional ${q}.SourceReference source_reference = 9`,
      `optional ${q}.RuntimeFilter runtime_filter = 10`,
      'optional bool invert_call_stack = 11',
      `repeated ${q}.Filter filter = 12`,
      'optional string sandwich_by_function = 13',
    ]);
    expect(values(queryV1alpha1.QueryRequest_ModeSchema)).toEqual(['MODE_SINGLE_UNSPECIFIED = 0', 'MODE_DIFF = 1', 'MODE_MERGE = 2']);
  });

  it('matches the report types', () => {
    expect(values(queryV1alpha1.QueryRequest_ReportTypeSchema)).toEqual([
      'REPORT_TYPE_FLAMEGRAPH_UNSPECIFIED = 0',
      'REPORT_TYPE_PPROF = 1',
      'REPORT_TYPE_TOP = 2',
      'REPORT_TYPE_CALLGRAPH = 3',
      'REPORT_TYPE_FLAMEGRAPH_TABLE = 4',
      'REPORT_TYPE_FLAMEGRAPH_ARROW = 5',
      'REPORT_TYPE_SOURCE = 6',
      'REPORT_TYPE_TABLE_ARROW = 7',
      'REPORT_TYPE_PROFILE_METADATA = 8',
      'REPORT_TYPE_FLAMECHART = 9',
    ]);
    expect(queryV1alpha1.QueryRequest_ReportType.FLAMEGRAPH_ARROW).toBe(5);
    expect(queryV1alpha1.QueryRequest_ReportType.TABLE_ARROW).toBe(7);
  });

  it('matches the selection messages', () => {
    expect(shape(queryV1alpha1.MergeProfileSchema)).toEqual(['string query = 1', `${ts} start = 2`, `${ts} end = 3`]);
    expect(shape(queryV1alpha1.SingleProfileSchema)).toEqual([`${ts} time = 1`, 'string query = 2']);
    expect(shape(queryV1alpha1.DiffProfileSchema)).toEqual([
      `${q}.ProfileDiffSelection a = 1`,
      `${q}.ProfileDiffSelection b = 2`,
      'optional bool absolute = 3',
    ]);
    expect(shape(queryV1alpha1.ProfileDiffSelectionSchema)).toEqual([
      `${q}.ProfileDiffSelection.Mode mode = 1`,
      `${q}.MergeProfile merge = 2 (oneof options)`,
      `${q}.SingleProfile single = 3 (oneof options)`,
    ]);
    expect(values(queryV1alpha1.ProfileDiffSelection_ModeSchema)).toEqual(['MODE_SINGLE_UNSPECIFIED = 0', 'MODE_MERGE = 1']);
    expect(shape(queryV1alpha1.GroupBySchema)).toEqual(['repeated string fields = 1']);
    expect(shape(queryV1alpha1.FilterSchema)).toEqual([`${q}.StackFilter stack_filter = 1 (oneof filter)`, `${q}.FrameFilter frame_filter = 2 (oneof filter)`]);
  });

  it('matches QueryResponse and the Arrow reports', () => {
    expect(shape(queryV1alpha1.QueryResponseSchema)).toEqual([
      `${q}.Flamegraph flamegraph = 5 (oneof report)`,
      'bytes pprof = 6 (oneof report)',
      `${q}.Top top = 7 (oneof report)`,
      `${q}.Callgraph callgraph = 8 (oneof report)`,
      `${q}.FlamegraphArrow flamegraph_arrow = 11 (oneof report)`,
      `${q}.Source source = 12 (oneof report)`,
      `${q}.TableArrow table_arrow = 13 (oneof report)`,
      `${q}.ProfileMetadata profile_metadata = 14 (oneof report)`,
      'int64 total = 9',
      'int64 filtered = 10',
    ]);
    expect(shape(queryV1alpha1.FlamegraphArrowSchema)).toEqual(['bytes record = 1', 'string unit = 2', 'int32 height = 3', 'int64 trimmed = 4']);
    expect(shape(queryV1alpha1.TableArrowSchema)).toEqual(['bytes record = 1', 'string unit = 2']);
  });

  it('matches QueryRange and its series', () => {
    expect(shape(queryV1alpha1.QueryRangeRequestSchema)).toEqual([
      'string query = 1',
      `${ts} start = 2`,
      `${ts} end = 3`,
      'uint32 limit = 4',
      'google.protobuf.Duration step = 5',
      'repeated string sum_by = 6',
    ]);
    expect(shape(queryV1alpha1.QueryRangeResponseSchema)).toEqual([`repeated ${q}.MetricsSeries series = 1`]);
    expect(shape(queryV1alpha1.MetricsSeriesSchema)).toEqual([
      `${ps}.LabelSet labelset = 1`,
      `repeated ${q}.MetricsSample samples = 2`,
      `${q}.ValueType period_type = 3`,
      `${q}.ValueType sample_type = 4`,
    ]);
    expect(shape(queryV1alpha1.MetricsSampleSchema)).toEqual([
      `${ts} timestamp = 1`,
      'int64 value = 2',
      'double value_per_second = 3',
      'int64 duration = 4',
      'int32 count = 5',
    ]);
  });

  it('matches the label and profile type lookups Grafana uses', () => {
    expect(shape(queryV1alpha1.LabelsRequestSchema)).toEqual([
      'repeated string match = 1',
      `${ts} start = 2`,
      `${ts} end = 3`,
      'optional string profile_type = 4',
    ]);
    expect(shape(queryV1alpha1.LabelsResponseSchema)).toEqual(['repeated string label_names = 1', 'repeated string warnings = 2']);
    expect(shape(queryV1alpha1.ValuesRequestSchema)).toEqual([
      'string label_name = 1',
      'repeated string match = 2',
      `${ts} start = 3`,
      `${ts} end = 4`,
      'optional string profile_type = 5',
    ]);
    expect(shape(queryV1alpha1.ValuesResponseSchema)).toEqual(['repeated string label_values = 1', 'repeated string warnings = 2']);
    expect(shape(queryV1alpha1.ProfileTypesRequestSchema)).toEqual([`optional ${ts} start = 1`, `optional ${ts} end = 2`]);
    expect(shape(queryV1alpha1.ProfileTypesResponseSchema)).toEqual([`repeated ${q}.ProfileType types = 1`]);
    expect(shape(queryV1alpha1.ProfileTypeSchema)).toEqual([
      'string name = 1',
      'string sample_type = 2',
      'string sample_unit = 3',
      'string period_type = 4',
      'string period_unit = 5',
      'bool delta = 6',
    ]);
  });
});

describe('parca.debuginfo.v1alpha1', () => {
  it('declares DebuginfoService with the public methods', () => {
    expect(methods(debuginfoV1alpha1.DebuginfoService)).toEqual([
      `Upload(${di}.UploadRequest) client_streaming ${di}.UploadResponse`,
      `ShouldInitiateUpload(${di}.ShouldInitiateUploadRequest) unary ${di}.ShouldInitiateUploadResponse`,
      `InitiateUpload(${di}.InitiateUploadRequest) unary ${di}.InitiateUploadResponse`,
      `MarkUploadFinished(${di}.MarkUploadFinishedRequest) unary ${di}.MarkUploadFinishedResponse`,
    ]);
  });

  it('matches the upload negotiation messages', () => {
    expect(shape(debuginfoV1alpha1.ShouldInitiateUploadRequestSchema)).toEqual([
      'string build_id = 1',
      'string hash = 2',
      'bool force = 3',
      `${di}.DebuginfoType type = 4`,
      `${di}.BuildIDType build_id_type = 5`,
    ]);
    expect(shape(debuginfoV1alpha1.ShouldInitiateUploadResponseSchema)).toEqual(['bool should_initiate_upload = 1', 'string reason = 2']);
    expect(shape(debuginfoV1alpha1.InitiateUploadRequestSchema)).toEqual([
      'string build_id = 1',
      'int64 size = 2',
      'string hash = 3',
      'bool force = 4',
      `${di}.DebuginfoType type = 5`,
      `${di}.BuildIDType build_id_type = 6`,
    ]);
    expect(shape(debuginfoV1alpha1.InitiateUploadResponseSchema)).toEqual([`${di}.UploadInstructions upload_instructions = 1`]);
    expect(shape(debuginfoV1alpha1.UploadInstructionsSchema)).toEqual([
      'string build_id = 1',
      'string upload_id = 2',
      `${di}.UploadInstructions.UploadStrategy upload_strategy = 3`,
      'string signed_url = 4',
      `${di}.DebuginfoType type = 5`,
    ]);
    expect(values(debuginfoV1alpha1.UploadInstructions_UploadStrategySchema)).toEqual([
      'UPLOAD_STRATEGY_UNSPECIFIED = 0',
      'UPLOAD_STRATEGY_GRPC = 1',
      'UPLOAD_STRATEGY_SIGNED_URL = 2',
    ]);
    expect(shape(debuginfoV1alpha1.MarkUploadFinishedRequestSchema)).toEqual(['string build_id = 1', 'string upload_id = 2', `${di}.DebuginfoType type = 3`]);
  });

  it('matches the upload stream messages and enums', () => {
    expect(shape(debuginfoV1alpha1.UploadRequestSchema)).toEqual([`${di}.UploadInfo info = 1 (oneof data)`, 'bytes chunk_data = 2 (oneof data)']);
    expect(shape(debuginfoV1alpha1.UploadInfoSchema)).toEqual(['string build_id = 1', 'string upload_id = 2', `${di}.DebuginfoType type = 3`]);
    expect(shape(debuginfoV1alpha1.UploadResponseSchema)).toEqual(['string build_id = 1', 'uint64 size = 2']);
    expect(values(debuginfoV1alpha1.DebuginfoTypeSchema)).toEqual([
      'DEBUGINFO_TYPE_DEBUGINFO_UNSPECIFIED = 0',
      'DEBUGINFO_TYPE_EXECUTABLE = 1',
      'DEBUGINFO_TYPE_SOURCES = 2',
      'DEBUGINFO_TYPE_SOURCE_MAP = 3',
    ]);
    expect(values(debuginfoV1alpha1.BuildIDTypeSchema)).toEqual([
      'BUILD_ID_TYPE_UNKNOWN_UNSPECIFIED = 0',
      'BUILD_ID_TYPE_GNU = 1',
      'BUILD_ID_TYPE_HASH = 2',
      'BUILD_ID_TYPE_GO = 3',
      'BUILD_ID_TYPE_SOURCE_MAP_DEBUG_ID = 4',
    ]);
  });
});

describe('push.v1 and types.v1', () => {
  it('matches PusherService and its messages', () => {
    expect(methods(pushV1.PusherService)).toEqual(['Push(push.v1.PushRequest) unary push.v1.PushResponse']);
    expect(shape(pushV1.PushRequestSchema)).toEqual(['repeated push.v1.RawProfileSeries series = 1']);
    expect(shape(pushV1.RawProfileSeriesSchema)).toEqual([
      'repeated types.v1.LabelPair labels = 1',
      'repeated push.v1.RawSample samples = 2',
      'repeated types.v1.ProfileAnnotation annotations = 3',
    ]);
    expect(shape(pushV1.RawSampleSchema)).toEqual(['bytes raw_profile = 1', 'string ID = 2']);
  });

  it('matches the shared types', () => {
    expect(shape(typesV1.LabelPairSchema)).toEqual(['string name = 1', 'string value = 2']);
    expect(shape(typesV1.ProfileTypeSchema)).toEqual([
      'string ID = 1',
      'string name = 2',
      'string sample_type = 4',
      'string sample_unit = 5',
      'string period_type = 6',
      'string period_unit = 7',
    ]);
    expect(shape(typesV1.SeriesSchema)).toEqual(['repeated types.v1.LabelPair labels = 1', 'repeated types.v1.Point points = 2']);
    expect(shape(typesV1.PointSchema)).toEqual([
      'double value = 1',
      'int64 timestamp = 2',
      'repeated types.v1.ProfileAnnotation annotations = 3',
      'repeated types.v1.Exemplar exemplars = 4',
    ]);
    expect(shape(typesV1.LabelValuesRequestSchema)).toEqual(['string name = 1', 'repeated string matchers = 2', 'int64 start = 3', 'int64 end = 4']);
    expect(shape(typesV1.LabelNamesRequestSchema)).toEqual(['repeated string matchers = 1', 'int64 start = 2', 'int64 end = 3']);
    expect(shape(typesV1.LabelNamesResponseSchema)).toEqual(['repeated string names = 1']);
    expect(shape(typesV1.LabelValuesResponseSchema)).toEqual(['repeated string names = 1']);
    expect(values(typesV1.TimeSeriesAggregationTypeSchema)).toEqual(['TIME_SERIES_AGGREGATION_TYPE_SUM = 0', 'TIME_SERIES_AGGREGATION_TYPE_AVERAGE = 1']);
  });
});

describe('querier.v1', () => {
  it('declares QuerierService with the public methods', () => {
    const t = 'types.v1';
    const r = 'querier.v1';
    expect(methods(querierV1.QuerierService)).toEqual([
      `ProfileTypes(${r}.ProfileTypesRequest) unary ${r}.ProfileTypesResponse`,
      `LabelValues(${t}.LabelValuesRequest) unary ${t}.LabelValuesResponse`,
      `LabelNames(${t}.LabelNamesRequest) unary ${t}.LabelNamesResponse`,
      `Series(${r}.SeriesRequest) unary ${r}.SeriesResponse`,
      `SelectMergeStacktraces(${r}.SelectMergeStacktracesRequest) unary ${r}.SelectMergeStacktracesResponse`,
      `SelectMergeSpanProfile(${r}.SelectMergeSpanProfileRequest) unary ${r}.SelectMergeSpanProfileResponse`,
      `SelectMergeProfile(${r}.SelectMergeProfileRequest) unary google.v1.Profile`,
      `SelectSeries(${r}.SelectSeriesRequest) unary ${r}.SelectSeriesResponse`,
      `SelectHeatmap(${r}.SelectHeatmapRequest) unary ${r}.SelectHeatmapResponse`,
      `Diff(${r}.DiffRequest) unary ${r}.DiffResponse`,
      `GetProfileStats(${t}.GetProfileStatsRequest) unary ${t}.GetProfileStatsResponse`,
      `AnalyzeQuery(${r}.AnalyzeQueryRequest) unary ${r}.AnalyzeQueryResponse`,
    ]);
  });

  it('matches SelectMergeStacktraces and the flame graph', () => {
    expect(shape(querierV1.SelectMergeStacktracesRequestSchema)).toEqual([
      'string profile_typeID = 1',
      'string label_selector = 2',
      'int64 start = 3',
      'int64 end = 4',
      'optional int64 max_nodes = 5',
      'querier.v1.ProfileFormat format = 6',
      'optional types.v1.StackTraceSelector stack_trace_selector = 7',
      'repeated string profile_id_selector = 8',
      'optional querier.v1.AsyncQueryRequest async = 9',
      'repeated string trace_id_selector = 10',
      'repeated string span_selector = 11',
    ]);
    expect(shape(querierV1.SelectMergeStacktracesResponseSchema)).toEqual([
      'querier.v1.FlameGraph flamegraph = 1',
      'bytes tree = 2',
      'string dot = 3',
      'optional querier.v1.AsyncQueryResponse async = 4',
      'querier.v1.PprofProfile pprof = 5',
    ]);
    expect(shape(querierV1.FlameGraphSchema)).toEqual([
      'repeated string names = 1',
      'repeated querier.v1.Level levels = 2',
      'int64 total = 3',
      'int64 max_self = 4',
    ]);
    expect(shape(querierV1.LevelSchema)).toEqual(['repeated int64 values = 1']);
    expect(shape(querierV1.FlameGraphDiffSchema)).toEqual([
      'repeated string names = 1',
      'repeated querier.v1.Level levels = 2',
      'int64 total = 3',
      'int64 max_self = 4',
      'int64 leftTicks = 5',
      'int64 rightTicks = 6',
    ]);
    expect(shape(querierV1.DiffRequestSchema)).toEqual([
      'querier.v1.SelectMergeStacktracesRequest left = 1',
      'querier.v1.SelectMergeStacktracesRequest right = 2',
    ]);
  });

  it('keeps the JSON names Connect JSON clients send', () => {
    expect(querierV1.SelectMergeStacktracesRequestSchema.field.profileTypeID.jsonName).toBe('profileTypeID');
    expect(querierV1.SelectMergeStacktracesRequestSchema.field.labelSelector.jsonName).toBe('labelSelector');
    expect(typesV1.ProfileTypeSchema.field.ID.jsonName).toBe('ID');
  });

  it('matches SelectSeries, SelectMergeProfile and Series', () => {
    expect(shape(querierV1.SelectSeriesRequestSchema)).toEqual([
      'string profile_typeID = 1',
      'string label_selector = 2',
      'int64 start = 3',
      'int64 end = 4',
      'repeated string group_by = 5',
      'double step = 6',
      'optional types.v1.TimeSeriesAggregationType aggregation = 7',
      'optional types.v1.StackTraceSelector stack_trace_selector = 8',
      'optional int64 limit = 9',
      'types.v1.ExemplarType exemplar_type = 10',
    ]);
    expect(shape(querierV1.SelectSeriesResponseSchema)).toEqual(['repeated types.v1.Series series = 1']);
    expect(shape(querierV1.SelectMergeProfileRequestSchema)).toEqual([
      'string profile_typeID = 1',
      'string label_selector = 2',
      'int64 start = 3',
      'int64 end = 4',
      'optional int64 max_nodes = 5',
      'optional types.v1.StackTraceSelector stack_trace_selector = 6',
      'repeated string profile_id_selector = 7',
      'repeated string trace_id_selector = 8',
    ]);
    expect(shape(querierV1.SeriesRequestSchema)).toEqual([
      'repeated string matchers = 1',
      'repeated string label_names = 2',
      'int64 start = 3',
      'int64 end = 4',
    ]);
    expect(shape(querierV1.SeriesResponseSchema)).toEqual(['repeated types.v1.Labels labels_set = 2']);
    expect(shape(querierV1.ProfileTypesResponseSchema)).toEqual(['repeated types.v1.ProfileType profile_types = 1']);
  });
});

describe('google.v1 (pprof)', () => {
  it('matches the pprof profile layout', () => {
    const g = 'google.v1';
    expect(shape(googleV1.ProfileSchema)).toEqual([
      `repeated ${g}.ValueType sample_type = 1`,
      `repeated ${g}.Sample sample = 2`,
      `repeated ${g}.Mapping mapping = 3`,
      `repeated ${g}.Location location = 4`,
      `repeated ${g}.Function function = 5`,
      'repeated string string_table = 6',
      'int64 drop_frames = 7',
      'int64 keep_frames = 8',
      'int64 time_nanos = 9',
      'int64 duration_nanos = 10',
      `${g}.ValueType period_type = 11`,
      'int64 period = 12',
      'repeated int64 comment = 13',
      'int64 default_sample_type = 14',
      'int64 doc_url = 15',
    ]);
    expect(shape(googleV1.SampleSchema)).toEqual(['repeated uint64 location_id = 1', 'repeated int64 value = 2', `repeated ${g}.Label label = 3`]);
    expect(shape(googleV1.LocationSchema)).toEqual([
      'uint64 id = 1',
      'uint64 mapping_id = 2',
      'uint64 address = 3',
      `repeated ${g}.Line line = 4`,
      'bool is_folded = 5',
    ]);
    expect(shape(googleV1.LineSchema)).toEqual(['uint64 function_id = 1', 'int64 line = 2', 'int64 column = 3']);
    expect(shape(googleV1.FunctionSchema)).toEqual(['uint64 id = 1', 'int64 name = 2', 'int64 system_name = 3', 'int64 filename = 4', 'int64 start_line = 5']);
    expect(shape(googleV1.MappingSchema).slice(0, 6)).toEqual([
      'uint64 id = 1',
      'uint64 memory_start = 2',
      'uint64 memory_limit = 3',
      'uint64 file_offset = 4',
      'int64 filename = 5',
      'int64 build_id = 6',
    ]);
    expect(shape(googleV1.LabelSchema)).toEqual(['int64 key = 1', 'int64 str = 2', 'int64 num = 3', 'int64 num_unit = 4']);
  });
});

// Firn's own messages are persisted (manifests in object storage) and cross process versions
// on the bus during rolling upgrades, so their numbering is pinned just as strictly.
describe('firn internal contracts', () => {
  it('pins IngestMessage and ClaimCheck', () => {
    expect(shape(firnIngestV1.IngestMessageSchema)).toEqual([
      'string tenant_id = 1',
      'string request_id = 2',
      'int64 received_at_unix_nano = 3',
      'firn.ingest.v1.PayloadKind kind = 4',
      `repeated ${ps}.Label series_labels = 5`,
      'bytes inline_payload = 6 (oneof body)',
      'firn.ingest.v1.ClaimCheck claim_check = 7 (oneof body)',
      'int64 from_unix_nano = 8',
      'int64 until_unix_nano = 9',
      'string profile_name = 10',
    ]);
    expect(values(firnIngestV1.PayloadKindSchema)).toEqual([
      'PAYLOAD_KIND_UNSPECIFIED = 0',
      'PAYLOAD_KIND_PPROF = 1',
      'PAYLOAD_KIND_ARROW = 2',
      'PAYLOAD_KIND_FOLDED = 3',
    ]);
    expect(shape(firnIngestV1.ClaimCheckSchema)).toEqual(['string object_key = 1', 'int64 size = 2', 'string sha256 = 3']);
  });

  it('pins the manifest messages', () => {
    const m = 'firn.manifest.v1';
    expect(shape(firnManifestV1.SegmentMetaSchema)).toEqual([
      'string id = 1',
      'string tenant_id = 2',
      'uint32 level = 3',
      'string object_key = 4',
      'int64 min_time_unix_nano = 5',
      'int64 max_time_unix_nano = 6',
      'repeated string profile_types = 7',
      `repeated ${m}.LabelSummary labels = 8`,
      'int64 rows = 9',
      'int64 bytes = 10',
      'int64 samples = 11',
      `repeated ${m}.SequenceRange covered = 12`,
      'int64 created_at_unix_nano = 13',
      'string writer_id = 14',
      'int64 ingest_bytes = 15',
    ]);
    expect(shape(firnManifestV1.LabelSummarySchema)).toEqual(['string name = 1', 'repeated string values = 2', 'bool truncated = 3']);
    expect(shape(firnManifestV1.SequenceRangeSchema)).toEqual(['string stream = 1', 'uint64 first = 2', 'uint64 last = 3']);
    expect(shape(firnManifestV1.ManifestDeltaSchema)).toEqual([
      'string tenant_id = 1',
      `repeated ${m}.SegmentMeta added = 2`,
      'repeated string removed = 3',
      'string origin = 4',
      'uint64 lamport = 5',
    ]);
    expect(shape(firnManifestV1.ManifestSnapshotSchema)).toEqual([
      'string tenant_id = 1',
      `repeated ${m}.SegmentMeta segments = 2`,
      'repeated string removed = 3',
      'int64 taken_at_unix_nano = 4',
    ]);
  });
});

describe('firn public contracts a web UI and the CLI call', () => {
  it('pins InsightsService and UsageService', () => {
    const i = 'firn.insights.v1';
    expect(methods(firnInsightsV1.InsightsService)).toEqual([
      `ExportPgoProfile(${i}.ExportPgoProfileRequest) unary ${i}.ExportPgoProfileResponse`,
      `CompareRegression(${i}.CompareRegressionRequest) unary ${i}.CompareRegressionResponse`,
      `CostReport(${i}.CostReportRequest) unary ${i}.CostReportResponse`,
    ]);
    expect(shape(firnInsightsV1.SelectionSchema)).toEqual(['string query = 1', `${ts} start = 2`, `${ts} end = 3`]);
    expect(methods(firnAdminUsageV1.UsageService)).toEqual(['GetUsage(firn.admin.v1.GetUsageRequest) unary firn.admin.v1.GetUsageResponse']);
  });
});

describe('binary round trips', () => {
  it('encodes a WriteRawRequest with the agent wire layout and decodes it back', () => {
    const msg = create(profilestoreV1alpha1.WriteRawRequestSchema, {
      series: [
        {
          labels: { labels: [{ name: 'a', value: 'b' }] },
          samples: [{ rawProfile: new Uint8Array([1, 2, 3]) }],
        },
      ],
      normalized: true,
    });
    const bytes = toBinary(profilestoreV1alpha1.WriteRawRequestSchema, msg);
    // Hand-assembled: series(2){labels(1){labels(1){name(1)="a",value(2)="b"}},
    // samples(2){raw_profile(1)=010203}}, normalized(3)=true.
    expect(Array.from(bytes)).toEqual([0x12, 0x11, 0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x12, 0x05, 0x0a, 0x03, 1, 2, 3, 0x18, 0x01]);
    const back = fromBinary(profilestoreV1alpha1.WriteRawRequestSchema, bytes);
    expect(back.normalized).toBe(true);
    expect(back.series[0].labels?.labels[0]).toMatchObject({ name: 'a', value: 'b' });
    expect(Array.from(back.series[0].samples[0].rawProfile)).toEqual([1, 2, 3]);
  });

  it('encodes a Grafana-style merge QueryRequest and decodes it back', () => {
    const msg = create(queryV1alpha1.QueryRequestSchema, {
      mode: queryV1alpha1.QueryRequest_Mode.MERGE,
      options: { case: 'merge', value: { query: 'q' } },
      reportType: queryV1alpha1.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    });
    const bytes = toBinary(queryV1alpha1.QueryRequestSchema, msg);
    // mode(1)=2, merge(3){query(1)="q"}, report_type(5)=5.
    expect(Array.from(bytes)).toEqual([0x08, 0x02, 0x1a, 0x03, 0x0a, 0x01, 0x71, 0x28, 0x05]);

    const full = create(queryV1alpha1.QueryRequestSchema, {
      mode: queryV1alpha1.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: {
          query: 'parca_agent:samples:count:cpu:nanoseconds:delta{node="a"}',
          start: timestampFromMs(1_700_000_000_000),
          end: timestampFromMs(1_700_000_060_000),
        },
      },
      reportType: queryV1alpha1.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
      nodeTrimThreshold: 0.5,
      groupBy: { fields: ['function_name'] },
      invertCallStack: false,
      sandwichByFunction: 'main',
      filter: [
        {
          filter: { case: 'stackFilter', value: { filter: { case: 'criteria', value: { functionName: { condition: { case: 'contains', value: 'foo' } } } } } },
        },
      ],
    });
    const back = fromBinary(queryV1alpha1.QueryRequestSchema, toBinary(queryV1alpha1.QueryRequestSchema, full));
    expect(back).toEqual(full);
    // Explicit presence survives the trip: false was set, so it is not "unset".
    expect(back.invertCallStack).toBe(false);
    expect(back.options.case === 'merge' ? back.options.value.start?.seconds : undefined).toBe(1_700_000_000n);
  });

  it('round-trips the Firn internal messages', () => {
    const ingest = create(firnIngestV1.IngestMessageSchema, {
      tenantId: 't1',
      requestId: 'r1',
      receivedAtUnixNano: 1n,
      kind: firnIngestV1.PayloadKind.PPROF,
      seriesLabels: [{ name: 'service_name', value: 'api' }],
      body: { case: 'claimCheck', value: { objectKey: 't1/ingest/x', size: 10n, sha256: 'ab' } },
      profileName: 'process_cpu',
    });
    expect(fromBinary(firnIngestV1.IngestMessageSchema, toBinary(firnIngestV1.IngestMessageSchema, ingest))).toEqual(ingest);

    const delta = create(firnManifestV1.ManifestDeltaSchema, {
      tenantId: 't1',
      added: [
        { id: 's1', tenantId: 't1', level: 0, covered: [{ stream: 'ingest', first: 1n, last: 9n }], labels: [{ name: 'a', values: ['x'], truncated: false }] },
      ],
      removed: ['s0'],
      origin: 'ingester-0',
      lamport: 7n,
    });
    expect(fromBinary(firnManifestV1.ManifestDeltaSchema, toBinary(firnManifestV1.ManifestDeltaSchema, delta))).toEqual(delta);
  });
});
