/* fs/file.h - what the data path (file.c) and the allocation calls (space.c) share (private) */
#ifndef DAXFS_FS_FILE_H
#define DAXFS_FS_FILE_H

#include "fs/internal.h"

/* Blocks one batch of a data change may dirty, beside two per chain block. */
#define DATA_RESERVE 96

/* Whether every block of [off, off+len) is a written block of ip. */
bool dfs_all_written(const struct dfs_inode *ip, uint64_t off, uint64_t len);
/* Zeroes the written bytes of [from, to) (a partial block at EOF, a gap
 * opened by extending the size) through the bio path, durably. ip locked. */
int dfs_zero_written(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to);
/* dfs_zero_written of the gap a size change opens past EOF, unless a lease
 * holder may be storing there (an unfenced lease, file.c says why).
 * _locked: under meta. ip locked. */
int dfs_zero_gap(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to);
int dfs_zero_gap_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to);
/* Unmaps [lblk, lblk+count) in transaction-sized batches, under meta. Never
 * fails for space: a range inside one extent needs a block for the extent
 * that splits off (from the reserve), and with not even that left the
 * blocks stay mapped and are zeroed instead, which reads the same. */
int dfs_unmap_range(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count);

#endif
