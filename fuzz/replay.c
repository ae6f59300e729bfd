/* fuzz/replay.c - runs a fuzz target over saved inputs, without libFuzzer: how the test suite replays */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/*
 * fuzz-replay-<target> PATH...: every file named, and every file in every
 * directory named (in name order, dotfiles skipped), goes once through the
 * target. No mutation, so a run is deterministic: an input that once
 * crashed (fuzz/regressions/) must pass, and so must the corpus. A failure
 * aborts in the target after it printed the input's name. An input runs in
 * milliseconds, under a sanitizer in well under a second: one still running
 * after HANG_SECONDS hangs (libFuzzer's -timeout in run.sh is 20), and the
 * replay exits 1 rather than leave the test suite waiting for its timeout.
 */

#define HANG_SECONDS 120

static unsigned replayed;

static void hang(int sig)
{
	static const char msg[] = "replay: the input above hangs (more than 120 seconds)\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
		perror(path);
		exit(2);
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	alarm(HANG_SECONDS);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	alarm(0);
	free(data);
	replayed++;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
	}
	signal(SIGALRM, hang);
	for (int i = 1; i < argc; i++) {
		struct dirent **names;
		struct stat st;
		int n;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			replay_file(argv[i]);
			continue;
		}
		n = scandir(argv[i], &names, visible, alphasort);
		if (n < 0) {
			perror(argv[i]);
			return 2;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name);
			replay_file(path);
			free(names[j]);
		}
		free(names);
	}
	printf("replayed %u inputs\n", replayed);
	return 0;
}
