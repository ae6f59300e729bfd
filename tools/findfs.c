/* tools/findfs.c - finding a daxfs by LABEL= or UUID= among the sources an administrator lists */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "findfs.h"

enum findfs_tag findfs_parse_tag(const char *spec, const char **value)
{
	if (strncmp(spec, "daxfs:", 6) == 0)
		spec += 6;
	if (strncmp(spec, "LABEL=", 6) == 0) {
		*value = spec + 6;
		return FINDFS_LABEL;
	}
	if (strncmp(spec, "UUID=", 5) == 0) {
		*value = spec + 5;
		return FINDFS_UUID;
	}
	return FINDFS_NONE;
}

const char *findfs_sources_file(void)
{
	const char *env = getenv("DAXFS_SOURCES");

	return env && *env ? env : FINDFS_SOURCES_FILE;
}

struct findfs {
	const char *progname;
	enum findfs_tag tag;
	const char *value;
	uint8_t uuid[16];
	bool verbose;
	char **found;           /* the matches */
	size_t nfound;
};

/* Reads candidate's superblock; records it when it matches. */
static int check_candidate(struct findfs *p, const char *candidate)
{
	struct mapped_device *md = NULL;
	struct dfs_info in;
	char uuid[37];
	int err;

	/* named after the candidate, so that the messages name it */
	err = dm_md_open_source(candidate, candidate, &md);
	if (!err)
		err = dfs_read_info(md, false, &in);
	dm_md_destroy(&md);
	if (err) {
		if (p->verbose)
			fprintf(stderr, "%s: %s: skipped: %s\n", p->progname, candidate,
				daxfs_errormsg());
		return 0;
	}
	if (!in.layout_matches) {
		if (p->verbose)
			fprintf(stderr, "%s: %s: skipped: its daxfs was made on another table "
				"(a member of a larger filesystem?)\n", p->progname, candidate);
		return 0;
	}
	cli_format_uuid(in.uuid, uuid);
	if (p->verbose)
		fprintf(stderr, "%s: %s: LABEL=%s UUID=%s\n", p->progname, candidate, in.label, uuid);
	if (p->tag == FINDFS_LABEL ? strcmp(in.label, p->value) != 0
				  : memcmp(in.uuid, p->uuid, 16) != 0)
		return 0;
	char **grown = realloc(p->found, (p->nfound + 1) * sizeof(*grown));

	if (!grown || !(grown[p->nfound] = strdup(candidate))) {
		if (grown)
			p->found = grown;
		fprintf(stderr, "%s: out of memory\n", p->progname);
		return -ENOMEM;
	}
	p->found = grown;
	p->nfound++;
	return 0;
}

/* One line of the sources file: a list as it is, anything else through glob. */
static int check_line(struct findfs *p, const char *line)
{
	glob_t g;
	int err = 0, ret;

	if (strchr(line, ','))
		return check_candidate(p, line);
	ret = glob(line, GLOB_NOMAGIC, NULL, &g);
	if (ret == GLOB_NOMATCH)
		return 0;
	if (ret != 0) {
		fprintf(stderr, "%s: %s: %s\n", p->progname, line,
			ret == GLOB_NOSPACE ? "out of memory" : "cannot read the directory");
		return ret == GLOB_NOSPACE ? -ENOMEM : 0;
	}
	for (size_t i = 0; i < g.gl_pathc && !err; i++)
		err = check_candidate(p, g.gl_pathv[i]);
	globfree(&g);
	return err;
}

#define SOURCES_MAX (1 << 20)

int findfs_resolve(const char *progname, enum findfs_tag tag, const char *value, bool verbose,
		  char **source)
{
	struct findfs p = { .progname = progname, .tag = tag, .value = value, .verbose = verbose };
	const char *file = findfs_sources_file();
	const char *what = tag == FINDFS_LABEL ? "LABEL" : "UUID";
	char *line = NULL;
	size_t cap = 0;
	int err = 0;
	FILE *f;

	*source = NULL;
	if (tag == FINDFS_LABEL && !value[0]) {
		/* it would pick the filesystems that have no label */
		fprintf(stderr, "%s: LABEL= needs a name\n", progname);
		return -EINVAL;
	}
	if (tag == FINDFS_UUID && cli_parse_uuid(value, p.uuid) != 0) {
		fprintf(stderr, "%s: UUID=%s: not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)\n",
			progname, value);
		return -EINVAL;
	}
	/* a list of paths: a FIFO would hold the mount, a device or a huge
	 * file without line ends fill memory */
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		fprintf(stderr, "%s: %s=%s: cannot read the list of sources to search, %s: %s\n",
			progname, what, value, file, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SOURCES_MAX) {
		fprintf(stderr, "%s: %s=%s: %s is not a list of sources to search: %s\n", progname,
			what, value, file, !S_ISREG(st.st_mode) ? "not a regular file" :
			"larger than 1 MiB");
		close(fd);
		return -EINVAL;
	}
	if (!(f = fdopen(fd, "r"))) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err && getline(&line, &cap, f) > 0) {
		char *s = line + strspn(line, " \t"), *end = s + strlen(s);

		while (end > s && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*s && *s != '#')
			err = check_line(&p, s);
	}
	free(line);
	fclose(f);
	if (!err && p.nfound == 0)
		err = -ENXIO;
	if (!err && p.nfound > 1) {
		fprintf(stderr, "%s: %s=%s is ambiguous: it names", progname, what, value);
		for (size_t i = 0; i < p.nfound; i++)
			fprintf(stderr, "%s %s", i == 0 ? "" : i + 1 < p.nfound ? "," : " and",
				p.found[i]);
		fprintf(stderr, " (in %s)\n", file);
		err = -ENOTUNIQ;
	}
	if (!err) {
		*source = p.found[0];
		p.found[0] = NULL;
	}
	for (size_t i = 0; i < p.nfound; i++)
		free(p.found[i]);
	free(p.found);
	return err;
}
