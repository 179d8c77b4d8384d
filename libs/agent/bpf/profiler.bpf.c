// SPDX-License-Identifier: GPL-2.0
// Firn's CPU sampler: runs on a per-CPU perf event (CPU clock, N Hz) and counts
// (process, comm, user stack, kernel stack) in a hash map. Only addresses leave the kernel;
// user space symbolizes.
//
// User stacks are unwound here, not by bpf_get_stackid: frame by frame, with the .eh_frame
// unwind tables user space built for each executable file (libs/unwind; layout in
// kernel-table.ts) where a table covers the address, and with frame pointers elsewhere (JIT
// code, files without tables, tables not built yet): mixed mode. Each fallback and each early
// stop is counted in `stats`. Kernel stacks still come from bpf_get_stackid.
//
// Double-buffered: two sets of maps; `control[0]` names the set the program writes to. User space
// flips it, waits for in-flight programs to finish (a program runs for microseconds), then drains
// the idle set at leisure and clears it. A slow drain therefore only widens the window; no
// sample references a stack id that the drain deletes.
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_STACK_DEPTH 127
#define MAX_USER_DEPTH 127
#define COMM_LEN 16

// Kernel stacks (STACK_TRACE maps are preallocated: 8192 × 1 KiB per buffer).
#ifndef MAX_STACKS
#define MAX_STACKS 8192
#endif
// User stacks (allocated as used: ~1 KiB per distinct stack in a window).
#ifndef MAX_USER_STACKS
#define MAX_USER_STACKS 16384
#endif
#ifndef MAX_COUNTS
#define MAX_COUNTS 16384
#endif
// Entries of the (pid, address prefix) → mapping trie: a mapping takes ~2·log2(size) prefixes.
#ifndef MAX_MAPPINGS
#define MAX_MAPPINGS 131072
#endif
// Unwind tables loaded at once (one inner array per executable file).
#ifndef MAX_TABLES
#define MAX_TABLES 4096
#endif
#ifndef MAX_PIDS
#define MAX_PIDS 32768
#endif
// Distinct unwind rules over all tables (16-bit ids in table entries).
#define MAX_RULES 65536
// Binary-search steps inside one 64 KiB page (≤ 2^16 entries) — KERNEL_SEARCH_STEPS in libs/unwind.
#define SEARCH_STEPS 17
#define PAGE_BITS 16
#define TABLE_HEADER 2

#define EFAULT 14
#define EEXIST 17

struct sample_key {
	__u32 pid;
	__s32 kernel_stack_id;
	__u64 user_stack_id; // hash of the user stack; 0 = none
	char comm[COMM_LEN];
};

struct user_stack {
	__u64 len;
	__u64 addrs[MAX_USER_DEPTH];
};

// Mirrors writeKernelRule in libs/unwind/src/kernel-table.ts.
struct unwind_rule {
	__u8 cfa_kind;
	__u8 fp_kind;
	__u8 ra_kind;
	__u8 pad;
	__s32 cfa_offset;
	__s16 fp_offset;
	__s16 ra_offset;
};

enum { CFA_NO_FDE = 0, CFA_END = 1, CFA_SP = 2, CFA_FP = 3, CFA_PLT = 4, CFA_DEREF_FP = 5 };
enum { FP_UNCHANGED = 0, FP_AT_CFA = 1, FP_AT_FP = 2, FP_LOST = 3 };

// LPM trie key: pid and address, both big endian so prefix bits run from the most significant.
struct mapping_key {
	__u32 prefixlen;
	__u32 pid_be;
	__u64 addr_be;
};

#define MAPPING_PENDING 1 // the file's table is still being built

struct mapping {
	__u32 table_id; // 0 = no table: frame pointers (JIT, vdso, files without .eh_frame)
	__u32 flags;
	__u64 bias; // address − bias = the file's virtual address
};

// Process states in `pids`: the kernel asks (NEW, STALE), user space answers (READY).
enum { PID_NEW = 1, PID_READY = 2, PID_STALE = 3 };

// control[0]: active buffer (0/1); control[1]: unwinder mode.
enum { MODE_FRAME_POINTERS = 0, MODE_TABLES = 1 };

// Counters, indexes shared with user space (sampler.ts STAT).
enum {
	STAT_SAMPLES = 0,          // samples seen (non-idle)
	STAT_MAP_FULL = 1,         // count map full: sample lost
	STAT_USER_STACK_ERR = 2,   // user stack not stored (stack map full)
	STAT_KERNEL_STACK_ERR = 3, // kernel stack not recorded (other than "no kernel stack")
	STAT_FRAMES_TABLE = 4,     // user frames unwound with an unwind table
	STAT_FRAMES_FP = 5,        // user frames unwound with frame pointers
	STAT_FP_NO_MAPPING = 6,    // fallback: address in no known mapping (new process, dlopen, new JIT region)
	STAT_FP_NO_TABLE = 7,      // fallback: the mapping has no table (JIT, vdso, no .eh_frame, over budget)
	STAT_FP_NOT_READY = 8,     // fallback: the table is still being built
	STAT_FP_NO_FDE = 9,        // fallback: no FDE covers the address
	STAT_FP_UNSUPPORTED = 10,  // fallback: a rule the kernel cannot evaluate
	STAT_STOP_READ = 11,       // stack cut: reading user memory failed
	STAT_STOP_DEPTH = 12,      // stack cut: MAX_USER_DEPTH frames
	STAT_STOP_BAD_FRAME = 13,  // stack cut: CFA/frame pointer not above the stack pointer, or lost
	STAT_STACKS_COMPLETE = 14, // user stacks that reached the outermost frame
	STAT_STACKS_TRUNCATED = 15,
	STAT_PIDS_NEW = 16,        // processes reported to user space for their mappings
	STAT_FRAMES_PYTHON = 17,   // CPython interpreter frames reported
	STAT_MAX = 18,
};

#define STACK_MAP(name) \
	struct { \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE); \
		__uint(max_entries, MAX_STACKS); \
		__uint(key_size, sizeof(__u32)); \
		__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64)); \
	} name SEC(".maps")

#define USTACK_MAP(name) \
	struct { \
		__uint(type, BPF_MAP_TYPE_HASH); \
		__uint(max_entries, MAX_USER_STACKS); \
		__uint(map_flags, BPF_F_NO_PREALLOC); \
		__type(key, __u64); \
		__type(value, struct user_stack); \
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
USTACK_MAP(ustacks0);
USTACK_MAP(ustacks1);
COUNT_MAP(counts0);
COUNT_MAP(counts1);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
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

// The stack being unwound (too big for the 512-byte BPF stack).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct user_stack);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct unwind_rule);
} unwind_rules SEC(".maps");

// One array per file, created by user space with the exact size of its table: u32 entries
// packed two per 8-byte element (array values are 8-byte aligned; see table_at).
struct table_template {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, MAX_TABLES);
	__type(key, __u32);
	__array(values, struct table_template);
} unwind_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_MAPPINGS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mapping_key);
	__type(value, struct mapping);
} mappings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PIDS);
	__type(key, __u32);
	__type(value, __u32);
} pids SEC(".maps");

// Tables the unwinder needed while they were still pending: table id → hits. User space builds
// only these (most hits first): a library no sample ever unwinds through costs nothing.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TABLES);
	__type(key, __u32);
	__type(value, __u32);
} wanted SEC(".maps");

// Processes user space should (re)read the mappings of: a QUEUE, so user space pops a few
// entries instead of scanning `pids`.
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__uint(key_size, 0);
	__uint(value_size, sizeof(__u32));
} requests SEC(".maps");

// CPython 3.11 processes (see libs/agent/src/unwind/python.ts): where the current thread state
// is, the range of _PyEval_EvalFrameDefault, and the structure offsets to walk.
#define PYTHON_FRAME_TAG (1ULL << 63)
#ifndef MAX_PYTHON_PROCS
#define MAX_PYTHON_PROCS 4096
#endif
struct python_proc {
	__u64 tstate_addr; // &_PyRuntime.gilstate.tstate_current
	__u64 eval_start;
	__u64 eval_end;
	__u16 tstate_cframe;
	__u16 tstate_native_tid;
	__u16 cframe_current_frame;
	__u16 frame_code;
	__u16 frame_previous;
	__u16 frame_is_entry;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PYTHON_PROCS);
	__type(key, __u32);
	__type(value, struct python_proc);
} python_procs SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

struct unwind_state {
	__u64 pc;
	__u64 sp;
	__u64 fp;
	__u64 hash;
	__u32 pid;
	__u32 depth;
	__u32 mode;
	__u32 fp_lost;   // a frame said the frame pointer is unknown from here on
	__u32 complete;  // reached the outermost frame
	__u32 reported;  // this sample already asked user space about the process
	// CPython: the next interpreter frame to report, and where the interpreter loop is.
	__u64 py_frame;
	__u64 py_eval_start;
	__u64 py_eval_end;
	__u16 py_code;
	__u16 py_previous;
	__u16 py_is_entry;
	__u16 py_emitting; // reporting the interpreter frames run by the current native frame
	__u32 py_done;     // the current native frame's interpreter frames were reported
	__u32 pad;
};

enum { STEP_OK = 0, STEP_END = 1, STEP_STOP = 2, STEP_FP = 3 };

// An address outside every known mapping: a process user space has not loaded yet (NEW), or
// one whose mappings changed (STALE). Once per sample.
static __always_inline void report_process(struct unwind_state *st)
{
	if (st->reported)
		return;
	st->reported = 1;
	__u32 *state = bpf_map_lookup_elem(&pids, &st->pid);
	if (!state) {
		__u32 fresh = PID_NEW;
		if (bpf_map_update_elem(&pids, &st->pid, &fresh, BPF_NOEXIST) != 0)
			return;
		if (bpf_map_push_elem(&requests, &st->pid, 0) == 0)
			bump(STAT_PIDS_NEW);
		else
			bpf_map_delete_elem(&pids, &st->pid); // queue full: ask again on a later sample
	} else if (*state == PID_READY) {
		*state = PID_STALE;
		if (bpf_map_push_elem(&requests, &st->pid, 0) != 0)
			*state = PID_READY;
	}
}

// Entry i of a table (u32 i of the packed array).
static __always_inline __u32 *table_at(void *table, __u32 i)
{
	__u32 k = i >> 1;
	__u32 *e = bpf_map_lookup_elem(table, &k);
	return e ? e + (i & 1) : 0;
}

static __always_inline int read_user_u64(__u64 *out, __u64 addr)
{
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr);
}

// One frame with the file's unwind table. STEP_FP asks the caller to use frame pointers.
// A global (non-static, not inlined) function: the verifier checks it once, on its own, instead
// of once per path through the frame loop (which would exceed its instruction budget).
__attribute__((noinline)) int table_step(struct unwind_state *st, __u32 frame)
{
	if (!st)
		return STEP_STOP;
	__u64 pc = st->pc;
	// A return address points after the call, possibly past the caller's last instruction.
	__u64 lpc = frame == 0 ? pc : pc - 1;
	struct mapping_key key = { .prefixlen = 96, .pid_be = bpf_htonl(st->pid), .addr_be = bpf_cpu_to_be64(lpc) };
	struct mapping *m = bpf_map_lookup_elem(&mappings, &key);
	if (!m) {
		report_process(st);
		bump(STAT_FP_NO_MAPPING);
		return STEP_FP;
	}
	__u32 table_id = m->table_id;
	if (m->flags & MAPPING_PENDING) {
		__u32 *hits = bpf_map_lookup_elem(&wanted, &table_id);
		if (hits) {
			__sync_fetch_and_add(hits, 1);
		} else {
			__u32 one = 1;
			bpf_map_update_elem(&wanted, &table_id, &one, BPF_NOEXIST);
		}
		bump(STAT_FP_NOT_READY);
		return STEP_FP;
	}
	void *table = table_id ? bpf_map_lookup_elem(&unwind_tables, &table_id) : 0;
	if (!table) {
		bump(STAT_FP_NO_TABLE);
		return STEP_FP;
	}
	__u64 rel = lpc - m->bias;
	__u32 k = 0;
	__u32 *header = bpf_map_lookup_elem(table, &k); // [0] first page, [1] page count
	if (!header)
		goto no_fde;
	__u32 *first = header, *npages = header + 1;
	__u64 page = (rel >> PAGE_BITS) - *first; // wraps to a huge value below the first page
	if (page >= *npages)
		goto no_fde;
	__u32 *plo = table_at(table, TABLE_HEADER + (__u32)page);
	__u32 *phi = table_at(table, TABLE_HEADER + (__u32)page + 1);
	if (!plo || !phi)
		goto no_fde;
	__u32 lo = *plo, hi = *phi;
	if (hi <= lo)
		goto no_fde;
	__u32 low = rel & ((1 << PAGE_BITS) - 1);
	// Last entry with offset ≤ low; the page's first entry has offset 0, so one exists.
	for (int i = 0; i < SEARCH_STEPS; i++) {
		if (hi - lo <= 1)
			break;
		__u32 mid = lo + (hi - lo) / 2;
		__u32 *e = table_at(table, mid);
		if (!e)
			goto no_fde;
		if ((*e >> 16) <= low)
			lo = mid;
		else
			hi = mid;
	}
	__u32 *entry = table_at(table, lo);
	if (!entry)
		goto no_fde;
	__u32 rule_id = *entry & 0xffff;
	struct unwind_rule *r = bpf_map_lookup_elem(&unwind_rules, &rule_id);
	if (!r) {
		bump(STAT_FP_UNSUPPORTED);
		return STEP_FP;
	}

	__u64 cfa;
	switch (r->cfa_kind) {
	case CFA_NO_FDE:
		goto no_fde;
	case CFA_END:
		return STEP_END;
	case CFA_SP:
		cfa = st->sp + (__s64)r->cfa_offset;
		break;
	case CFA_FP:
		if (st->fp_lost || st->fp == 0) {
			bump(STAT_STOP_BAD_FRAME);
			return STEP_STOP;
		}
		cfa = st->fp + (__s64)r->cfa_offset;
		break;
	case CFA_PLT:
		cfa = st->sp + 8 + (((pc & 15) >= (__u64)r->cfa_offset) ? 8 : 0);
		break;
	case CFA_DEREF_FP:
		if (st->fp_lost || read_user_u64(&cfa, st->fp + (__s64)r->cfa_offset)) {
			bump(STAT_STOP_READ);
			return STEP_STOP;
		}
		break;
	default:
		bump(STAT_FP_UNSUPPORTED);
		return STEP_FP;
	}
	// The caller's frame is above this one: anything else is garbage (and could loop).
	if (cfa <= st->sp) {
		bump(STAT_STOP_BAD_FRAME);
		return STEP_STOP;
	}
	__u64 ra;
	if (read_user_u64(&ra, cfa + (__s64)r->ra_offset)) {
		bump(STAT_STOP_READ);
		return STEP_STOP;
	}
	switch (r->fp_kind) {
	case FP_AT_CFA:
		if (read_user_u64(&st->fp, cfa + (__s64)r->fp_offset))
			st->fp_lost = 1;
		else
			st->fp_lost = 0;
		break;
	case FP_AT_FP:
		if (st->fp_lost || read_user_u64(&st->fp, st->fp + (__s64)r->fp_offset))
			st->fp_lost = 1;
		break;
	case FP_LOST:
		st->fp_lost = 1;
		break;
	default: // unchanged
		break;
	}
	st->sp = cfa;
	st->pc = ra;
	return ra == 0 ? STEP_END : STEP_OK;

no_fde:
	bump(STAT_FP_NO_FDE);
	return STEP_FP;
}

// One frame by the frame-pointer chain: [fp] = caller's fp, [fp + 8] = return address.
static __always_inline int fp_step(struct unwind_state *st)
{
	if (st->fp_lost) {
		bump(STAT_STOP_BAD_FRAME);
		return STEP_STOP;
	}
	__u64 fp = st->fp;
	if (fp == 0) // _start and clone() zero the frame pointer: the outermost frame
		return STEP_END;
	if (fp < st->sp) {
		// Frames live above the stack pointer: this is not a frame of this stack.
		bump(STAT_STOP_BAD_FRAME);
		return STEP_STOP;
	}
	__u64 frame[2];
	if (bpf_probe_read_user(frame, sizeof(frame), (const void *)fp)) {
		bump(STAT_STOP_READ);
		return STEP_STOP;
	}
	st->sp = fp + 16;
	st->fp = frame[0];
	st->pc = frame[1];
	return frame[1] == 0 ? STEP_END : STEP_OK;
}

static __always_inline void push_frame(struct unwind_state *st, struct user_stack *us, __u32 d, __u64 addr)
{
	if (d < MAX_USER_DEPTH)
		us->addrs[d] = addr;
	st->depth = d + 1;
	st->hash = (st->hash ^ addr) * 0x100000001b3ULL; // FNV-1a over the addresses
}

// One interpreter frame of the _PyEval_EvalFrameDefault call being unwound: its code object,
// tagged. The frames of one call end at the one marked is_entry (3.11).
static __always_inline int python_step(struct unwind_state *st, struct user_stack *us, __u32 d)
{
	__u64 frame = st->py_frame, code = 0, previous = 0;
	__u8 is_entry = 1;
	if (read_user_u64(&code, frame + st->py_code) || read_user_u64(&previous, frame + st->py_previous) ||
	    bpf_probe_read_user(&is_entry, sizeof(is_entry), (const void *)(frame + st->py_is_entry))) {
		st->py_frame = 0;
		st->py_emitting = 0;
		return 0; // unreadable: go on with native frames only
	}
	push_frame(st, us, d, PYTHON_FRAME_TAG | code);
	bump(STAT_FRAMES_PYTHON);
	st->py_frame = previous;
	if (is_entry || previous == 0)
		st->py_emitting = 0;
	return 1;
}

static long unwind_frame(__u32 i, void *arg)
{
	struct unwind_state *st = arg;
	__u32 zero = 0;
	struct user_stack *us = bpf_map_lookup_elem(&scratch, &zero);
	if (!us)
		return 1;
	__u32 d = st->depth;
	if (d >= MAX_USER_DEPTH) {
		bump(STAT_STOP_DEPTH);
		return 1;
	}
	// A native frame in the interpreter loop: report the Python frames it runs first (leafward).
	if (st->py_frame && !st->py_done && st->pc >= st->py_eval_start && st->pc < st->py_eval_end) {
		st->py_done = 1;
		st->py_emitting = 1;
	}
	if (st->py_emitting && python_step(st, us, d))
		return 0;
	push_frame(st, us, d, st->pc);

	int step = STEP_FP;
	if (st->mode == MODE_TABLES) {
		step = table_step(st, d);
		if (step == STEP_OK)
			bump(STAT_FRAMES_TABLE);
	}
	if (step == STEP_FP) {
		step = fp_step(st);
		if (step == STEP_OK)
			bump(STAT_FRAMES_FP);
	}
	st->py_done = 0;
	if (step == STEP_OK)
		return 0;
	if (step == STEP_END)
		st->complete = 1;
	return 1;
}

// Where a CPython process's current thread is in its interpreter, if this thread holds the GIL.
static __always_inline void python_start(struct unwind_state *st, struct python_proc *py)
{
	__u64 tstate = 0, tid = 0, cframe = 0, frame = 0;
	if (read_user_u64(&tstate, py->tstate_addr) || tstate == 0)
		return;
	if (read_user_u64(&tid, tstate + py->tstate_native_tid) || (__u32)tid != (__u32)bpf_get_current_pid_tgid())
		return; // another thread holds the GIL: this one runs no Python code now
	if (read_user_u64(&cframe, tstate + py->tstate_cframe) || cframe == 0)
		return;
	if (read_user_u64(&frame, cframe + py->cframe_current_frame) || frame == 0)
		return;
	st->py_frame = frame;
	st->py_eval_start = py->eval_start;
	st->py_eval_end = py->eval_end;
	st->py_code = py->frame_code;
	st->py_previous = py->frame_previous;
	st->py_is_entry = py->frame_is_entry;
}

// Unwinds the current task's user stack into a user-stack map; returns its id (0 = none).
static __always_inline __u64 user_stack(struct bpf_perf_event_data *ctx, __u32 tgid, __u32 mode, void *ustacks)
{
	__u64 ip, sp, bp;
	if ((ctx->regs.cs & 3) == 3) {
		ip = ctx->regs.rip;
		sp = ctx->regs.rsp;
		bp = ctx->regs.rbp;
	} else {
		// Sampled in the kernel: the user registers are those saved at kernel entry.
		struct pt_regs regs;
		struct task_struct *task = bpf_get_current_task_btf();
		struct pt_regs *saved = (struct pt_regs *)bpf_task_pt_regs(task);
		if (!saved || bpf_probe_read_kernel(&regs, sizeof(regs), saved))
			return 0;
		ip = regs.rip;
		sp = regs.rsp;
		bp = regs.rbp;
	}
	if (ip == 0 || ip >= 0x800000000000ULL) // kernel threads have no user context
		return 0;

	struct unwind_state st = {
		.pc = ip,
		.sp = sp,
		.fp = bp,
		.hash = 0xcbf29ce484222325ULL,
		.pid = tgid,
		.mode = mode,
	};
	struct python_proc *py = bpf_map_lookup_elem(&python_procs, &tgid);
	if (py)
		python_start(&st, py);
	bpf_loop(MAX_USER_DEPTH, unwind_frame, &st, 0);
	if (st.depth == 0)
		return 0;
	bump(st.complete ? STAT_STACKS_COMPLETE : STAT_STACKS_TRUNCATED);

	__u32 zero = 0;
	struct user_stack *us = bpf_map_lookup_elem(&scratch, &zero);
	if (!us)
		return 0;
	us->len = st.depth;
	__u64 id = st.hash ^ st.depth;
	if (id == 0)
		id = 1;
	long err = bpf_map_update_elem(ustacks, &id, us, BPF_NOEXIST);
	if (err != 0 && err != -EEXIST) {
		bump(STAT_USER_STACK_ERR);
		return 0;
	}
	return id;
}

static __always_inline void record(struct bpf_perf_event_data *ctx, void *stacks, void *ustacks, void *counts, struct sample_key *key, __u32 mode)
{
	key->user_stack_id = user_stack(ctx, key->pid, mode, ustacks);
	key->kernel_stack_id = bpf_get_stackid(ctx, stacks, 0);
	// -EFAULT means "no such stack" (samples taken in user mode have no kernel stack).
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

	__u32 idx = 0;
	__u32 *active = bpf_map_lookup_elem(&control, &idx);
	idx = 1;
	__u32 *modep = bpf_map_lookup_elem(&control, &idx);
	__u32 mode = modep ? *modep : MODE_FRAME_POINTERS;
	if (active && *active == 1)
		record(ctx, &stacks1, &ustacks1, &counts1, &key, mode);
	else
		record(ctx, &stacks0, &ustacks0, &counts0, &key, mode);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
