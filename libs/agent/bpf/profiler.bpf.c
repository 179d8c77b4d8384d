// SPDX-License-Identifier: GPL-2.0
// Firn's CPU sampler: runs on a per-CPU perf event (CPU clock, N Hz) and counts
// (process, comm, user stack, kernel stack) in a hash map. Only addresses leave the kernel;
// user space symbolizes.
//
// Double-buffered: two sets of maps; `control[0]` names the set the program writes to. User space
// flips it, waits for in-flight programs to finish (a program runs for microseconds), then drains
// the idle set at leisure and clears it. A slow drain therefore only widens the window; no
// sample references a stack id that the drain deletes.
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#define MAX_STACK_DEPTH 127
#define COMM_LEN 16

#ifndef MAX_STACKS
#define MAX_STACKS 16384
#endif
#ifndef MAX_COUNTS
#define MAX_COUNTS 16384
#endif

#define EFAULT 14

struct sample_key {
	__u32 pid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[COMM_LEN];
};

// Drop counters, indexes shared with user space (see bpf-maps.ts DROP_*).
enum {
	STAT_SAMPLES = 0,       // samples seen (non-idle)
	STAT_MAP_FULL = 1,      // count map full: sample lost
	STAT_USER_STACK_ERR = 2,  // user stack not recorded (other than "no user stack")
	STAT_KERNEL_STACK_ERR = 3,
	STAT_MAX = 4,
};

#define STACK_MAP(name) \
	struct { \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE); \
		__uint(max_entries, MAX_STACKS); \
		__uint(key_size, sizeof(__u32)); \
		__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64)); \
	} name SEC(".maps")

#define COUNT_MAP(name) \
	struct { \
		__uint(type, BPF_MAP_TYPE_HASH); \
		__uint(max_entries, MAX_COUNTS); \
		__type(key, struct sample_key); \
		__type(value, __u64); \
	} name SEC(".maps")

STACK_MAP(stacks0);
STACK_MAP(stacks1);
COUNT_MAP(counts0);
COUNT_MAP(counts1);

// control[0]: the active buffer (0 or 1).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} control SEC(".maps");

// Monotonic totals; user space reports deltas.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline void record(struct bpf_perf_event_data *ctx, void *stacks, void *counts, struct sample_key *key)
{
	key->user_stack_id = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
	key->kernel_stack_id = bpf_get_stackid(ctx, stacks, 0);
	// -EFAULT means "no such stack" (kernel threads have no user stack; samples taken in user
	// mode have no kernel stack): not an error.
	if (key->user_stack_id < 0 && key->user_stack_id != -EFAULT)
		bump(STAT_USER_STACK_ERR);
	if (key->kernel_stack_id < 0 && key->kernel_stack_id != -EFAULT)
		bump(STAT_KERNEL_STACK_ERR);

	__u64 *count = bpf_map_lookup_elem(counts, key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(counts, key, &one, BPF_NOEXIST) != 0) {
		// Lost a race with another CPU inserting the same key: add to its entry.
		count = bpf_map_lookup_elem(counts, key);
		if (count)
			__sync_fetch_and_add(count, 1);
		else
			bump(STAT_MAP_FULL);
	}
}

SEC("perf_event")
int firn_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == 0) // the idle task
		return 0;
	bump(STAT_SAMPLES);

	struct sample_key key = {};
	key.pid = tgid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));

	__u32 zero = 0;
	__u32 *active = bpf_map_lookup_elem(&control, &zero);
	if (active && *active == 1)
		record(ctx, &stacks1, &counts1, &key);
	else
		record(ctx, &stacks0, &counts0, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
