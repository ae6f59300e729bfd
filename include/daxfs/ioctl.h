/* daxfs/ioctl.h - the control channel: ioctls on a mounted daxfs-fuse's files and directories */
#ifndef DAXFS_IOCTL_H
#define DAXFS_IOCTL_H

#include <linux/ioctl.h>
#include <stdint.h>

/*
 * daxfs-ctl and libdaxfs talk to a mounted daemon through ioctls on the mount's
 * root directory (device control) or on a file (per-file requests). FUSE
 * forwards them only in restricted form, so every command encodes its
 * direction and a fixed argument size (at most 16 KiB) in its number.
 *
 * Number space of type DAXFS_IOC_MAGIC:
 *   0x00-0x3f  device control and fault injection (daxfs-ctl)
 *   0x40-0x7f  direct access for applications (libdaxfs)
 * Each request structure starts with a version word so the channel can grow.
 */
#define DAXFS_IOC_MAGIC 0xDA

#define DAXFS_IOC_VERSION 1u

#endif
