/* client/registry.c - the mappings this process made, so persist and unmap find theirs by address */
#include <pthread.h>

#include "client/internal.h"

/* Few mappings per process (one per mapped range), so a list does. */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct dmap *head;       /* protected by lock */

void dmap_register(struct dmap *m)
{
	pthread_rwlock_wrlock(&lock);
	m->next = head;
	head = m;
	pthread_rwlock_unlock(&lock);
}

struct dmap *dmap_unregister(const void *addr)
{
	struct dmap **pp, *m = NULL;

	pthread_rwlock_wrlock(&lock);
	for (pp = &head; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	pthread_rwlock_unlock(&lock);
	return m;
}

struct dmap *dmap_lookup(const void *addr, size_t length)
{
	const char *a = addr;

	pthread_rwlock_rdlock(&lock);
	for (struct dmap *m = head; m; m = m->next)
		if (a >= m->addr && length <= m->region && (size_t)(a - m->addr) <= m->region - length)
			return m;
	pthread_rwlock_unlock(&lock);
	return NULL;
}

void dmap_unlock(void)
{
	pthread_rwlock_unlock(&lock);
}
