/* client/backing.c - a backing device for a mapping, opened by the path the daemon names */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "client/internal.h"
#include "daxfs/ioctl.h"
#include "util/err.h"

int dmap_open_backing(int fd, uint32_t index, bool write)
{
	struct daxfs_ioc_device d = { .version = DAXFS_IOC_VERSION, .index = index };
	int bfd;

	if (ioctl(fd, DAXFS_IOC_DEVICE, &d) < 0)
		return daxfs_err(-errno, "asking the daemon for backing device %u: %s", index,
				 strerror(errno));
	if (d.error < 0)
		return daxfs_err(d.error, "the daemon has no backing device %u for this open file: "
				 "%s", index, strerror(-d.error));
	d.path[sizeof(d.path) - 1] = '\0';
	bfd = open(d.path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (bfd >= 0)
		return bfd;
	return daxfs_err(-errno, "opening backing device %s: %s (the mapping needs access to "
			 "it)", d.path, strerror(errno));
}
