/* dax/mc.c - machine-check-safe access to device mappings: the kernel's copy_mc family */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <libpmem.h>

#include "dax/device.h"
#include "util/err.h"

/*
 * A load or store through a device mapping raises SIGBUS when the backing
 * file cannot provide the page: the file was truncated under us, or the page
 * is a hole of a sparse file whose filesystem is full. The kernel meets the
 * same hazard on pmem (a machine check on poisoned media) with copy_mc_* and
 * an exception table: the access fails, the copy reports how far it got.
 * Here the exception table is a per-thread recovery point: a guarded access
 * arms it with the device ranges it may fault on, and the process's SIGBUS
 * handler, installed once, jumps back to it when the fault lies in one of
 * them. Every other SIGBUS goes on to the handler that was there before, or
 * to the default action: a SIGBUS outside a guarded access is still a crash.
 *
 * Accesses run page by page on the device side, so that a fault is
 * attributed to exactly one page: the pages before it are done, it is
 * recorded as a bad block of its device (what dax_badblocks_list and the
 * daemon's status show, and what makes direct_access answer -EHWPOISON from
 * then on), and the access fails with -EIO.
 */

#define MC_PAGE ((uintptr_t)DAX_PAGE_SIZE)

/* The recovery point of one thread. The handler reads armed, lo and hi and
 * writes fault; it runs on the faulting thread, so no lock is needed, only
 * the compiler barriers around arming (atomic_signal_fence). */
struct mc_ctx {
	sigjmp_buf env;
	uintptr_t lo[2], hi[2];
	void *fault;
	volatile sig_atomic_t armed;
};

/* initial-exec: with a dynamic TLS model, the handler of a thread that never
 * armed could make the first access to the block, which may allocate. */
static _Thread_local struct mc_ctx mc_ctx __attribute__((tls_model("initial-exec")));

static pthread_once_t mc_once = PTHREAD_ONCE_INIT;
static struct sigaction mc_prev;   /* the handler ours replaced; set once */

static void mc_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct mc_ctx *c = &mc_ctx;
	uintptr_t a = (uintptr_t)si->si_addr;

	/* si_code > 0: raised by the kernel for this access, not sent by kill */
	if (c->armed && si->si_code > 0 &&
	    ((a >= c->lo[0] && a < c->hi[0]) || (a >= c->lo[1] && a < c->hi[1]))) {
		c->armed = 0;
		c->fault = si->si_addr;
		siglongjmp(c->env, 1);
	}
	if (mc_prev.sa_flags & SA_SIGINFO) {
		mc_prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (mc_prev.sa_handler != SIG_DFL && mc_prev.sa_handler != SIG_IGN) {
		mc_prev.sa_handler(sig);
		return;
	}
	/* The default action, as if no handler were installed: a fault runs
	 * again on return and kills; a sent signal is sent again. Both calls
	 * are async-signal-safe, and SA_NODEFER lets the second arrive now. */
	signal(SIGBUS, SIG_DFL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void mc_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mc_sigbus;
	/* SA_NODEFER: the handler leaves by siglongjmp without restoring a
	 * signal mask (sigsetjmp(env, 0) saves none: no system call per
	 * access), so it must not have blocked SIGBUS on the way in. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &mc_prev) < 0)
		abort();   /* SIGBUS with a valid handler: cannot fail */
}

/* ---- the mappings of open devices ---------------------------------------- */

/* Which device an address belongs to, as the kernel finds the dev_pagemap
 * of a poisoned pfn. Protected by reg_lock (a leaf lock). */
static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct dax_device **reg;
static size_t reg_n, reg_cap;

int dax_mc_register(struct dax_device *dev)
{
	int ret = 0;

	pthread_once(&mc_once, mc_install);
	pthread_rwlock_wrlock(&reg_lock);
	if (reg_n == reg_cap) {
		size_t cap = reg_cap ? 2 * reg_cap : 16;
		struct dax_device **n = realloc(reg, cap * sizeof(*n));

		if (!n)
			ret = daxfs_err(-ENOMEM, "%s: out of memory", dev->path);
		else {
			reg = n;
			reg_cap = cap;
		}
	}
	if (ret == 0)
		reg[reg_n++] = dev;
	pthread_rwlock_unlock(&reg_lock);
	return ret;
}

void dax_mc_unregister(struct dax_device *dev)
{
	pthread_rwlock_wrlock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		if (reg[i] == dev) {
			reg[i] = reg[--reg_n];
			break;
		}
	}
	pthread_rwlock_unlock(&reg_lock);
}

static bool in_map(const struct dax_device *dev, uintptr_t a)
{
	return a >= (uintptr_t)dev->addr && a - (uintptr_t)dev->addr < dev->map_len;
}

/* The device whose mapping holds [p, p+len), NULL for ordinary memory; a
 * range that starts in a mapping and leaves it is a caller's bug. */
static int owner_of(const void *p, size_t len, struct dax_device **out)
{
	uintptr_t a = (uintptr_t)p;
	int ret = 0;

	*out = NULL;
	if (len == 0)
		return 0;
	pthread_rwlock_rdlock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		if (!in_map(reg[i], a))
			continue;
		if (len > reg[i]->map_len - (a - (uintptr_t)reg[i]->addr))
			ret = daxfs_err(-EINVAL, "%s: access of %zu bytes at byte %llu runs past "
					"the mapping", reg[i]->path, len,
					(unsigned long long)(a - (uintptr_t)reg[i]->addr));
		*out = reg[i];
		break;
	}
	pthread_rwlock_unlock(&reg_lock);
	return ret;
}

/* ---- the guarded access ------------------------------------------------- */

/* One access: op on [0, len) of dst (and src for copies). A side with a
 * device is guarded; the other is ordinary memory. */
struct mc_job {
	enum dax_mc_op op;
	char *dst;
	const char *src;
	struct dax_device *ddev, *sdev;
	size_t len;
	volatile size_t done;   /* read after a fault: volatile across siglongjmp */
};

static size_t to_page_end(const void *p)
{
	return MC_PAGE - ((uintptr_t)p & (MC_PAGE - 1));
}

/* The step of a job: no piece crosses a page of a guarded side, so a fault
 * stops the job at the start of the piece holding the bad page. */
static void mc_steps(struct mc_job *j)
{
	while (j->done < j->len) {
		size_t at = j->done, n = j->len - at;

		if (j->ddev && to_page_end(j->dst + at) < n)
			n = to_page_end(j->dst + at);
		if (j->sdev && to_page_end(j->src + at) < n)
			n = to_page_end(j->src + at);
		switch (j->op) {
		case DAX_MC_LOAD:
		case DAX_MC_STORE:
			memmove(j->dst + at, j->src + at, n);
			break;
		case DAX_MC_STORE_NT:
			pmem_memcpy_nodrain(j->dst + at, j->src + at, n);
			break;
		case DAX_MC_ZERO:
			memset(j->dst + at, 0, n);
			break;
		case DAX_MC_FLUSH:
			pmem_flush(j->dst + at, n);
			break;
		case DAX_MC_PROBE:
			(void)__atomic_load_n(j->dst + at, __ATOMIC_RELAXED);
			break;
		}
		j->done = at + n;
	}
}

/* Copies that overlap with dst after src go backwards, page by page, as
 * memmove would; done is then 0 after a fault (nothing from the start is
 * known to be copied). */
static void mc_steps_backward(struct mc_job *j)
{
	size_t left = j->len;

	while (left) {
		size_t n = left;
		uintptr_t d = (uintptr_t)j->dst + left, s = (uintptr_t)j->src + left;

		if (j->ddev && (d & (MC_PAGE - 1)) && (d & (MC_PAGE - 1)) < n)
			n = d & (MC_PAGE - 1);
		if (j->sdev && (s & (MC_PAGE - 1)) && (s & (MC_PAGE - 1)) < n)
			n = s & (MC_PAGE - 1);
		if (n > MC_PAGE)
			n = MC_PAGE;
		memmove(j->dst + left - n, j->src + left - n, n);
		left -= n;
	}
	j->done = j->len;
}

static void guard(uintptr_t *lo, uintptr_t *hi, const struct dax_device *dev)
{
	*lo = dev ? (uintptr_t)dev->addr : 0;
	*hi = dev ? (uintptr_t)dev->addr + dev->map_len : 0;
}

/* Turns the fault into a bad block and an error message. Runs after the
 * jump, in ordinary context. */
static int mc_failed(struct mc_job *j, void *fault)
{
	struct dax_device *dev = j->ddev && in_map(j->ddev, (uintptr_t)fault) ? j->ddev : j->sdev;
	uint64_t page = ((uintptr_t)fault - (uintptr_t)dev->addr) >> DAX_PAGE_SHIFT;
	uint64_t end = (page + 1) << DAX_PAGE_SHIFT;
	struct statvfs sv;
	struct stat st;
	char why[96];

	if (fstat(dev->fd, &st) == 0 && (uint64_t)st.st_size < end)
		snprintf(why, sizeof(why), "the backing file was truncated to %lld bytes",
			 (long long)st.st_size);
	else if (fstatvfs(dev->fd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < MC_PAGE)
		snprintf(why, sizeof(why), "the backing file's filesystem is full");
	else
		snprintf(why, sizeof(why), "the backing file cannot provide it");
	if (end <= dev->size)
		dax_bb_add(&dev->bb, page * DAX_PAGE_SECTORS, DAX_PAGE_SECTORS);
	return daxfs_err(-EIO, "%s: page %llu: SIGBUS on access: %s", dev->path,
			 (unsigned long long)page, why);
}

static int mc_run(struct mc_job *j)
{
	struct mc_ctx *c = &mc_ctx;
	uintptr_t d = (uintptr_t)j->dst, s = (uintptr_t)j->src;
	bool backward = (j->op == DAX_MC_LOAD || j->op == DAX_MC_STORE) && d > s && d - s < j->len;

	j->done = 0;
	if (!j->ddev && !j->sdev) {
		if (j->op == DAX_MC_LOAD || j->op == DAX_MC_STORE)
			memmove(j->dst, j->src, j->len);
		j->done = j->len;
		return 0;
	}
	if (c->armed)
		abort();   /* a guarded access inside another: the inner one would
			    * take the outer recovery point */
	guard(&c->lo[0], &c->hi[0], j->ddev);
	guard(&c->lo[1], &c->hi[1], j->sdev);
	if (sigsetjmp(c->env, 0)) {
		atomic_signal_fence(memory_order_seq_cst);
		return mc_failed(j, c->fault);
	}
	c->armed = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (backward)
		mc_steps_backward(j);
	else
		mc_steps(j);
	atomic_signal_fence(memory_order_seq_cst);
	c->armed = 0;
	return 0;
}

int dax_mc(struct dax_device *dev, enum dax_mc_op op, uint64_t pos, void *buf, size_t len,
	   size_t *done)
{
	struct mc_job j = { .op = op, .len = len };
	int ret;

	if (op == DAX_MC_LOAD) {
		j.dst = buf;
		j.src = dev->addr + pos;
		j.sdev = dev;
		ret = owner_of(buf, len, &j.ddev);
	} else {
		j.dst = dev->addr + pos;
		j.src = buf;
		j.ddev = dev;
		ret = op == DAX_MC_STORE || op == DAX_MC_STORE_NT ? owner_of(buf, len, &j.sdev) : 0;
	}
	if (ret == 0)
		ret = mc_run(&j);
	if (done)
		*done = j.done;
	return ret;
}

int dax_copy_mc(void *dst, const void *src, size_t len, size_t *done)
{
	struct mc_job j = { .op = DAX_MC_LOAD, .dst = dst, .src = src, .len = len };
	int ret = owner_of(dst, len, &j.ddev);

	if (ret == 0)
		ret = owner_of(src, len, &j.sdev);
	if (ret == 0 && len && (!dst || !src))
		ret = daxfs_err(-EINVAL, "dax_copy_mc: NULL buffer");
	if (ret == 0)
		ret = mc_run(&j);
	if (done)
		*done = j.done;
	return ret;
}

int dax_probe_mc(const void *addr, size_t len, size_t *good)
{
	struct mc_job j = { .op = DAX_MC_PROBE, .dst = (char *)addr, .len = len };
	int ret = owner_of(addr, len, &j.ddev);

	if (ret == 0 && j.ddev)
		ret = mc_run(&j);
	else if (ret == 0)
		j.done = len;
	if (good)
		*good = j.done;
	return ret;
}
