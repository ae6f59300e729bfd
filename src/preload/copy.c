/* preload/copy.c - libdaxfs-run: copies to and from mapped blocks that fail with a count, not a crash */
#include <libpmem.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "preload/run.h"

/*
 * A load or store through a mapping of a member file raises SIGBUS when the
 * member cannot provide the page (truncated, or a full sparse file): what a
 * machine check on poisoned pmem is to the kernel, whose copy_mc turns it
 * into a short copy and read(2) into EIO. The same here: a copy runs page
 * by page under a per-thread recovery point that our SIGBUS handler jumps
 * back to; a SIGBUS anywhere else goes to the handler that was there before
 * (or kills, by default). Recovery points nest, for a signal handler that
 * reads a file while the thread it interrupted was copying.
 */

struct guard {
	sigjmp_buf env;
	struct guard *prev;
};

static _Thread_local struct guard *armed __attribute__((tls_model("initial-exec")));
/* The program's own SIGBUS action, which ours passes the faults it does not
 * recover on to: what was there when ours was installed, then whatever the
 * program sets through sigaction/signal, which keep ours in place (a program
 * that sets its handler late would otherwise lose the recovery). Two copies,
 * so that the handler never reads one half written. */
static struct sigaction prev_actions[2];
static int prev_cur;
static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static bool installed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct guard *g = armed;
	const struct sigaction *prev = &prev_actions[__atomic_load_n(&prev_cur, __ATOMIC_ACQUIRE)];

	if (g && si->si_code > 0) {
		armed = g->prev;
		siglongjmp(g->env, 1);
	}
	/* a page of a mapping past the EOF it had, which the file has grown
	 * over since: mapped now, and the access runs again */
	if (si->si_code > 0 && run_fault(si->si_addr))
		return;
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, uc);
		return;
	}
	if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
		return;
	}
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	sigemptyset(&dfl.sa_mask);
	real.sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&chain_lock);
	real.sigaction(SIGBUS, &sa, &prev_actions[0]);
	installed = true;
	pthread_mutex_unlock(&chain_lock);
}

bool run_sigbus_chain(const struct sigaction *act, struct sigaction *old)
{
	pthread_mutex_lock(&chain_lock);
	if (!installed) {
		pthread_mutex_unlock(&chain_lock);
		return false;
	}
	if (old)
		*old = prev_actions[prev_cur];
	if (act) {
		prev_actions[!prev_cur] = *act;
		__atomic_store_n(&prev_cur, !prev_cur, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&chain_lock);
	return true;
}

static void copy_page(void *dst, const void *src, size_t n, bool nt)
{
	if (nt)
		pmem_memcpy_nodrain(dst, src, n);
	else
		memcpy(dst, src, n);
}

void run_copy_init(void)
{
	pthread_once(&once, install);
}

size_t run_copy(void *dst, const void *src, size_t len, bool nt)
{
	struct guard g;
	volatile size_t done = 0;

	pthread_once(&once, install);
	g.prev = armed;
	/* no signal mask to save: the handler runs with SA_NODEFER, so
	 * jumping out of it leaves SIGBUS unblocked, and a copy costs no
	 * system call */
	if (sigsetjmp(g.env, 0) == 0) {
		armed = &g;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		while (done < len) {
			/* page by page of whichever side is mapped: a fault
			 * then loses at most the page it hit */
			uintptr_t a = (uintptr_t)dst + done, b = (uintptr_t)src + done;
			size_t n = RUN_PAGE - (a % RUN_PAGE);
			size_t m = RUN_PAGE - (b % RUN_PAGE);

			if (m < n)
				n = m;
			if (n > len - done)
				n = len - done;
			copy_page((char *)dst + done, (const char *)src + done, n, nt);
			done += n;
		}
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
	armed = g.prev;
	return done;
}
