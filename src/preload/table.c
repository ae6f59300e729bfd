/* preload/table.c - libdaxfs-run: the daemon's shared tables, one set per mount */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/internal.h"
#include "preload/run.h"
#include "util/err.h"

/* The mounts' list. Only ever grows: the tables of mounts gone stay mapped,
 * since inodes of ours may still point into them. Held around the list
 * alone (nothing else is locked under it), after glock when both are. */
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static struct rmount *mounts;

/* tlock held */
static struct rmount *find(dev_t dev, uint32_t id)
{
	for (struct rmount *m = mounts; m; m = m->next)
		if (m->dev == dev && (!id || m->head->id == id))
			return m;
	return NULL;
}

struct rmount *run_mount_of(dev_t dev, uint32_t id)
{
	struct rmount *m;

	pthread_mutex_lock(&tlock);
	m = find(dev, id);
	pthread_mutex_unlock(&tlock);
	return m;
}

volatile struct daxfs_run_pending *run_mount_pending(struct rmount *m, uint32_t slot, bool *rw)
{
	volatile struct daxfs_run_pending *p;

	/* pend_rw is set after pend, both once: a writable answer is the
	 * writable mapping */
	*rw = __atomic_load_n(&m->pend_rw, __ATOMIC_ACQUIRE);
	p = __atomic_load_n(&m->pend, __ATOMIC_ACQUIRE);
	return p ? &p[slot] : NULL;
}

struct rmount *run_mount_add(dev_t dev, const struct daxfs_ioc_run_open *o, bool write)
{
	struct rmount *m, *had;
	size_t bytes = (size_t)o->nslots * sizeof(struct daxfs_run_slot) +
		       sizeof(struct daxfs_run_head);
	size_t pbytes = (size_t)o->nslots * sizeof(struct daxfs_run_pending);
	int fds[2], n = dmap_fetch_fds(o->socket, o->token, "the daxfs-run table", fds, 2);
	void *at = MAP_FAILED, *pat = MAP_FAILED;

	if (n < 0) {
		run_log("no table: %s", daxfs_errormsg());
		return NULL;
	}
	/* a daemon that sends no pending table: every size change is a
	 * request, as before it */
	at = real.mmap(NULL, bytes, PROT_READ, MAP_SHARED, fds[0], 0);
	if (at != MAP_FAILED && n == 2)
		pat = real.mmap(NULL, pbytes, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
				fds[1], 0);
	/* the daemon lets only who may store into the members move sizes:
	 * anyone else pushes them (RUN_WRITTEN) */
	if (pat == MAP_FAILED && n == 2 && write && errno == EACCES) {
		write = false;
		pat = real.mmap(NULL, pbytes, PROT_READ, MAP_SHARED, fds[1], 0);
	}
	/* the table's own descriptor a little longer: the daemon's end is
	 * told on it (alive.c) */
	int table_fd = run_fd_keep_dup(fds[0]);

	for (int i = 0; i < n; i++)
		real.close(fds[i]);
	if (at == MAP_FAILED || (n == 2 && pat == MAP_FAILED) || !(m = calloc(1, sizeof(*m)))) {
		run_log("mapping the table: %s", strerror(errno));
		run_fd_close(table_fd);
		if (at != MAP_FAILED)
			real.munmap(at, bytes);
		if (pat != MAP_FAILED)
			real.munmap(pat, pbytes);
		return NULL;
	}
	m->dev = dev;
	m->alive_fd = -1;
	m->slots = at;
	m->pend = pat != MAP_FAILED ? pat : NULL;
	m->pend_rw = write && m->pend;
	m->nslots = o->nslots;
	m->head = (volatile struct daxfs_run_head *)(m->slots + o->nslots);
	if (m->head->id != o->table_id) {
		run_log("the table handed over is not the mount's");
		run_fd_close(table_fd);
		real.munmap(at, bytes);
		if (pat != MAP_FAILED)
			real.munmap(pat, pbytes);
		free(m);
		return NULL;
	}
	pthread_mutex_lock(&tlock);
	if ((had = find(dev, o->table_id))) {
		/* the read-only mapping stays: inodes may point into it */
		if (m->pend_rw && !had->pend_rw && had->nslots == m->nslots) {
			__atomic_store_n(&had->pend, m->pend, __ATOMIC_RELEASE);
			__atomic_store_n(&had->pend_rw, true, __ATOMIC_RELEASE);
			pat = MAP_FAILED;
		}
		pthread_mutex_unlock(&tlock);
		real.munmap(at, bytes);
		if (pat != MAP_FAILED)
			real.munmap(pat, pbytes);
		free(m);
		run_fd_close(table_fd);
		return had;
	}
	m->next = mounts;
	mounts = m;
	pthread_mutex_unlock(&tlock);
	if (table_fd >= 0) {
		run_alive_watch(m, table_fd);
		run_fd_close(table_fd);
	}
	return m;
}

void run_tables_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&tlock);
	else
		pthread_mutex_unlock(&tlock);
}

void run_tables_forked(void)
{
	pthread_mutex_lock(&tlock);
	for (struct rmount *m = mounts; m; m = m->next)
		if (__atomic_load_n(&m->alive_fd, __ATOMIC_ACQUIRE) >= 0 &&
		    !__atomic_load_n(&m->dead, __ATOMIC_ACQUIRE))
			run_alive_watch(m, m->alive_fd);
	pthread_mutex_unlock(&tlock);
}
