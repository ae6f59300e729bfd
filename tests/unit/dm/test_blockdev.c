/* test_blockdev.c - tables over a block device (a loop device): not DAX, served by the bio path */
#include <linux/loop.h>
#include <sys/ioctl.h>

#include "fixture.h"

struct loopdev {
	int fd;
	char path[32];
};

static void loop_detach(void *arg)
{
	struct loopdev *l = arg;

	ioctl(l->fd, LOOP_CLR_FD, 0);
	close(l->fd);
	free(l);
}

/* Attaches backing to a free loop device; NULL (the test skips) when loop
 * devices are not available here. */
static const char *loop_attach(const char *backing)
{
	struct loopdev *l;
	int ctl, ffd;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return NULL;
	ffd = open(backing, O_RDWR | O_CLOEXEC);
	l = calloc(1, sizeof(*l));
	if (ffd < 0 || !l)
		goto fail;
	/* another process may take the free device first: try a few */
	for (int tries = 0; tries < 8; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			break;
		snprintf(l->path, sizeof(l->path), "/dev/loop%d", n);
		l->fd = open(l->path, O_RDWR | O_CLOEXEC);
		if (l->fd < 0)
			break;
		if (ioctl(l->fd, LOOP_SET_FD, ffd) == 0) {
			close(ffd);
			close(ctl);
			t_defer(loop_detach, l);
			return l->path;
		}
		close(l->fd);
		if (errno != EBUSY)
			break;
	}
fail:
	if (ffd >= 0)
		close(ffd);
	free(l);
	close(ctl);
	return NULL;
}

static int test_block_device_table_is_not_dax(void)
{
	const char *loop = loop_attach(t_pmem("backing", 16, 1));
	struct mapped_device *md = t_md();     /* closed before the loop detaches */
	struct dm_table *t;

	if (!loop)
		return T_SKIP;
	CHECK_EQ(dm_table_parse(md, t_fmt("0 128 linear %s 0\n", loop), "test", &t), 0);
	CHECK(!dm_table_supports_dax(t));
	CHECK_STR(dm_table_not_dax_reason(t), t_fmt("target 0 (linear): %s: block device: "
						   "served through the bio path", loop));
	dm_table_put(&t);
	return T_PASS;
}

/* §7 item 7: a BIO device becomes DAX when a DAX table is loaded. */
static int test_bio_device_becomes_dax_on_reload(void)
{
	const char *loop = loop_attach(t_pmem("backing", 16, 1));
	struct mapped_device *md = t_md();     /* closed before the loop detaches */
	const char *a = t_pmem("A", 16, 2);
	unsigned char buf[512];
	struct dm_md_info info;

	if (!loop)
		return T_SKIP;
	CHECK_EQ(t_make_live(md, t_fmt("0 128 linear %s 0\n", loop)), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.dax);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 4096, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[6], 1);
	CHECK_EQ(dm_dax_direct_access(md, 0, 1, DAX_ACCESS, NULL, NULL), -EOPNOTSUPP);
	CHECK_EQ(t_make_live(md, t_fmt("0 128 linear %s 0\n", a)), 0);
	dm_md_get_info(md, &info);
	CHECK(info.dax);
	CHECK_EQ(dm_dax_direct_access(md, 0, 1, DAX_ACCESS, NULL, NULL), 1);
	return T_PASS;
}

/* Part A 4: only DAX tables must be page-aligned. */
static int test_unaligned_table_on_block_device_loads(void)
{
	const char *loop = loop_attach(t_pmem("backing", 16, 1));
	struct mapped_device *md = t_md();     /* closed before the loop detaches */
	unsigned char buf[512];

	if (!loop)
		return T_SKIP;
	CHECK_EQ(t_make_live(md, t_fmt("0 12 linear %s 1\n12 4 linear %s 100\n", loop, loop)), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 12 * 512, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[0], (uint8_t)(100 * 512));
	CHECK_EQ(buf[1], (uint8_t)((100 * 512) >> 8));
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_block_device_table_is_not_dax),
	T_CASE(test_bio_device_becomes_dax_on_reload),
	T_CASE(test_unaligned_table_on_block_device_loads),
};

T_MAIN(cases)
