/* fuzz/harness.h - what the fuzz targets share: a private scratch directory, input decoding, images */
#ifndef DAXFS_FUZZ_HARNESS_H
#define DAXFS_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxfs/err.h"
#include "daxfs/fs.h"

/* libFuzzer's entry point; replay.c calls it without libFuzzer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A failed property check: prints what broke and aborts, which libFuzzer
 * reports as a crash (and replay as a failed run) with the input saved.
 */
__attribute__((noreturn, format(printf, 1, 2)))
void fuzz_fail(const char *fmt, ...);

/* Whether DAXFS_FUZZ_DEBUG is set: targets then say what each step did. */
bool fuzz_debug(void);

/*
 * The input read front to back. Past its end every read gives zeroes, so a
 * short input is a valid one that simply stops early; fuzz_more says whether
 * anything is left.
 */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};
bool fuzz_more(const struct fuzz_in *in);
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Copies up to max bytes (fewer at the end of the input); returns the count. */
size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t max);

/*
 * This process's scratch directory, made on first use with mkdtemp under
 * $DAXFS_FUZZ_TMPDIR, else /dev/shm (the filesystem's msync is free on
 * tmpfs), else $TMPDIR or /tmp; removed with everything in it at exit. Two
 * runs never share one, so concurrent runs cannot clobber each other's
 * images. fuzz_path writes "<dir>/<name>" into buf.
 */
const char *fuzz_dir(void);
void fuzz_path(char *buf, size_t size, const char *name);

/* Makes path a sparse file of size bytes. */
void fuzz_make_file(const char *path, uint64_t size);

/*
 * The image targets' fresh filesystem: an 8 MiB file at path, made with
 * dfs_mkfs and filled by populate (may be NULL), read back into a malloc'd
 * copy. fuzz_image_write puts a copy (pristine or damaged) back before each
 * run. Both abort on failure: without an image there is nothing to test.
 */
#define FUZZ_IMAGE_SIZE (8u << 20)
uint8_t *fuzz_image_make(const char *path, void (*populate)(struct dfs *fs));
void fuzz_image_write(const char *path, const uint8_t *img);

/*
 * Applies a patch list from the input to img (FUZZ_IMAGE_SIZE bytes): count
 * records of u32 offset, u8 length, bytes. With reseal, every block touched
 * gets valid checksums again for the place it is at (block tail, group
 * descriptors, inode slots, member labels: see fuzz_reseal), so that damage
 * gets past the checksums into the code that trusts what they cover.
 */
void fuzz_patch_image(struct fuzz_in *in, unsigned count, bool reseal, uint8_t *img);
/* Recomputes the checksums of block blk of img as if it were at home blk,
 * using img's superblock for the layout (the group descriptor table and the
 * inode table); a block holding a member label gets the label's crc, and no
 * tail. A bitmap block's crc lives in its group descriptor and is left
 * alone. */
void fuzz_reseal(const uint8_t *img, uint64_t blk, uint8_t *block);

/* Runs fsck (mode) on md; returns the number of problems it left unrepaired
 * (a failure of fsck itself counts as one), with the first one's text in
 * first (if not NULL, size bytes). */
unsigned fuzz_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, char *first, size_t size);

/* Reads everything reachable from the root (at most 256 inodes): attributes,
 * listings, file data (first MiB), link targets, xattr names and values. */
void fuzz_walk(struct dfs *fs);

#endif
