/* fs/stream.c - room ahead of a growing file, which the allocator gives others last */
#include <string.h>

#include "fs/internal.h"

/*
 * Files that grow together (two logs, a database and its journal, parallel
 * copies) take blocks in turn, and each one's next block, right after its
 * last, is already the other's: the allocator's goal alone made every
 * append an extent of its own, and two files appended 4 KiB at a time in
 * turn ran out of extents (DFS_MAX_EXTENTS, ENOSPC) at 69 MiB each, with
 * the filesystem nearly empty.
 *
 * So a file that grows at its end again keeps a window of free blocks after
 * its last extent, in memory only, as large as the file is long (16 blocks
 * to 32 MiB): other allocations look for room outside every window but
 * their own first, and take a window's blocks only when nothing else fits.
 * Windows never overlap. A window is a preference and never holds a block:
 * nothing of it reaches the media, so crashes, fsck and the free counts know
 * nothing of it. The DFS_STREAMS most recently grown files have one; a file
 * that stopped growing loses its window to the next file that starts, one
 * that gives blocks back (a truncate, a punched hole, its removal) at once.
 */

#define STREAM_MIN 16u        /* blocks: 64 KiB */
#define STREAM_MAX 8192u      /* blocks: 32 MiB */

void dfs_stream_note(struct dfs *fs, uint64_t ino, uint64_t next, uint64_t file_blocks)
{
	struct dfs_stream *s = NULL, *oldest = &fs->streams[0];
	uint64_t w = file_blocks < STREAM_MIN ? STREAM_MIN :
		     file_blocks > STREAM_MAX ? STREAM_MAX : file_blocks;

	for (size_t i = 0; i < DFS_STREAMS && !s; i++) {
		if (fs->streams[i].ino == ino)
			s = &fs->streams[i];
		else if (fs->streams[i].used < oldest->used)
			oldest = &fs->streams[i];
	}
	if (!s)
		s = oldest;
	if (next >= fs->sb.total_blocks) {       /* no room after the device's end */
		if (s->ino == ino)
			memset(s, 0, sizeof(*s));
		return;
	}
	uint64_t end = w < fs->sb.total_blocks - next ? next + w : fs->sb.total_blocks;

	/* Windows never overlap: one reaching into another's would push that
	 * file off its own next block, and the two would leap over each other
	 * ever after. A file that had to take blocks in another's window gets
	 * none ahead of them. */
	for (size_t i = 0; i < DFS_STREAMS; i++) {
		const struct dfs_stream *o = &fs->streams[i];

		if (o == s || !o->ino || o->end <= next)
			continue;
		if (o->start <= next)
			end = next;
		else if (o->start < end)
			end = o->start;
	}
	s->ino = ino;
	s->start = next;
	s->end = end;
	s->used = ++fs->stream_clock;
}

void dfs_stream_forget(struct dfs *fs, uint64_t ino)
{
	for (size_t i = 0; i < DFS_STREAMS; i++)
		if (fs->streams[i].ino == ino)
			memset(&fs->streams[i], 0, sizeof(fs->streams[i]));
}

bool dfs_stream_others(const struct dfs *fs, uint64_t owner)
{
	for (size_t i = 0; i < DFS_STREAMS; i++)
		if (fs->streams[i].ino && fs->streams[i].ino != owner)
			return true;
	return false;
}

void dfs_stream_overlay(const struct dfs *fs, uint64_t owner, uint64_t gstart, uint64_t glen,
			uint8_t *map)
{
	const uint64_t gend = gstart + glen;

	for (size_t i = 0; i < DFS_STREAMS; i++) {
		const struct dfs_stream *st = &fs->streams[i];
		uint64_t s = st->start, e = st->end;

		if (!st->ino || st->ino == owner || e <= gstart || s >= gend)
			continue;
		s = s < gstart ? gstart : s;
		e = e > gend ? gend : e;
		for (uint64_t b = s - gstart; b < e - gstart; b++)
			map[b >> 3] |= (uint8_t)(1u << (b & 7));
	}
}
