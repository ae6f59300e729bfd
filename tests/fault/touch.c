/* touch.c - maps a file and loads one byte of a page, reporting the SIGBUS it gets and its si_code */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * usage: touch FILE PAGE
 * Maps FILE shared and read-only, loads the first byte of page PAGE. Prints
 * "read" and exits 0, or prints "SIGBUS <si_code name>" and exits 3; 2 on a
 * usage or setup error. What a test cannot see from a Python child, which
 * only learns that SIGBUS killed it.
 */

static sigjmp_buf env;
static volatile sig_atomic_t code;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	code = si->si_code;
	siglongjmp(env, 1);
}

static const char *code_name(int c)
{
	switch (c) {
	case BUS_ADRALN:
		return "BUS_ADRALN";
	case BUS_ADRERR:
		return "BUS_ADRERR";
	case BUS_OBJERR:
		return "BUS_OBJERR";
	case BUS_MCEERR_AR:
		return "BUS_MCEERR_AR";
	case BUS_MCEERR_AO:
		return "BUS_MCEERR_AO";
	}
	return "other";
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	volatile const char *p;
	struct stat st;
	long page;
	int fd;

	if (argc != 3 || (page = strtol(argv[2], NULL, 10)) < 0) {
		fprintf(stderr, "usage: touch FILE PAGE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || sigaction(SIGBUS, &sa, NULL) < 0) {
		perror(argv[1]);
		return 2;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (sigsetjmp(env, 0)) {
		printf("SIGBUS %s\n", code_name(code));
		return 3;
	}
	(void)p[page * 4096];
	printf("read\n");
	return 0;
}
