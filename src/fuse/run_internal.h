/* fuse/run_internal.h - the daemon's records behind the daxfs-run table, for run.c and recall.c */
#ifndef DAXFS_FUSE_RUN_INTERNAL_H
#define DAXFS_FUSE_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daxfs/ioctl.h"

#define RUN_SLOTS 65536u
#define RUN_BUCKETS 4096u
#define LOCK_TIMEOUT_NS 2000000000ll
#define RUN_REC_PAIRS_MAX 64u

/* An open file through which daxfs-run processes have mmap regions. */
struct run_mapper {
	uint64_t fh;
	unsigned count;             /* ADDs not yet dropped */
	uint32_t acked;             /* the last recall value acknowledged */
};

struct run_ino {
	struct run_ino *next;
	uint64_t ino;
	unsigned writable;          /* open files with write access */
	unsigned marked;            /* of those, the ones daxfs-run serves */
	unsigned extending;         /* appends through the daemon */
	unsigned changing;          /* layout changes in progress (pub) */
	uint64_t writes_seen;       /* the pending record's writes at the last fold (pub) */
	int slot;                   /* -1: none */
	int rec;                    /* its size record pair, -1: none (lock) */
	pthread_mutex_t pub;        /* publishing into the slot: size, gen */
	uint64_t size_before;       /* pub: the size when the change began */
	bool shrunk;                /* pub: a change cut the size: recall */
	int64_t layout_ended;       /* pub: CLOCK_MONOTONIC seconds of the last change's end */
	struct run_mapper *map;     /* lock for writing */
	unsigned nmap;
	/* lock for writing: the end of what holders allocated ahead past EOF
	 * (DAXFS_IOC_ALLOC_AHEAD) and did not give back yet, 0: nothing */
	uint64_t ahead_end;
	/* lock for writing: give_back_ahead calls under way, during which the
	 * kernel may not cache the attributes (st_blocks is about to change) */
	unsigned giving_back;
};

struct run_mark {
	struct run_mark *next;
	uint64_t fh;
};

struct dfuse_run {
	/* The hash, the marks and slot assignment. A record is freed only
	 * with it held for writing, so one found under the read lock stays. */
	pthread_rwlock_t lock;
	struct run_ino *bucket[RUN_BUCKETS];
	struct run_mark *marks[RUN_BUCKETS];
	struct daxfs_run_slot *slots;       /* the shared mapping */
	struct daxfs_run_head *head;        /* after the slots */
	struct daxfs_run_pending *pend;     /* the pending sizes, same index */
	int pend_fd;
	unsigned next_free;                 /* where the search for a free slot starts */
	atomic_uint used;                   /* slots in use: 0 lets the data path skip */
	atomic_uint giving_back;            /* the sum of the records' giving_back */
	int memfd;
	char lock_path[4096];               /* backing device 0: the extend lock */
	int alive_fd;                       /* the memfd again: the liveness lock (head->alive) */
	/* The size record pairs (head->rec_pairs of them): which run_ino's
	 * slot writes each, NULL: free (lock held for writing). */
	struct run_ino *rec_owner[RUN_REC_PAIRS_MAX];
};

/* The inode's record, or NULL (lock held); found or made (lock held for
 * writing; NULL: out of memory); dropped when nothing needs it any more
 * (lock held for writing). */
struct run_ino *run_find(struct dfuse_run *r, uint64_t ino);
struct run_ino *run_get(struct dfuse_run *r, uint64_t ino);
void run_maybe_drop(struct dfuse_run *r, struct run_ino *p);

#endif
