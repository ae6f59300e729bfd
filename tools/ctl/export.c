/* tools/ctl/export.c - daxfs-ctl export: an NFS-Ganesha configuration that serves a mount over NFSv4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ctl/ctl.h"

static const struct ctl_command *const cmd = &ctl_export_command;

struct export_opts {
	char mnt[PATH_MAX];          /* the mount point, resolved */
	char dir[PATH_MAX];          /* configuration, log, pid file, recovery */
	unsigned port;
	const char *clients;
	const char *squash;          /* Ganesha's name */
	const char *pseudo;
	const char *bind;
	unsigned grace;              /* seconds; 0: Graceless */
	bool allow_other;            /* the mount lets users other than its owner in */
};

/* Undoes mountinfo's \ooo escapes of space, tab, newline and backslash. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* Whether mnt (resolved) is the mount point of a daxfs-fuse mount; sets
 * allow_other from its options. Ganesha exports a directory tree, so a
 * subdirectory would work, but a handle would then lead clients out of it. */
static int check_mount(struct export_opts *o)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f) {
		ctl_error(cmd, "/proc/self/mountinfo: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *fields[16], *save = NULL, *p = line;
		int n = 0;

		while (n < 16 && (fields[n] = strtok_r(p, " \n", &save)))
			p = NULL, n++;
		if (n < 10)
			continue;
		unescape(fields[4]);
		if (strcmp(fields[4], o->mnt) != 0)
			continue;
		/* the optional fields end at "-"; then type, source, super options.
		 * A later entry on the same point hides this one: the last counts. */
		found = false;
		for (int i = 6; i + 3 < n; i++)
			if (strcmp(fields[i], "-") == 0) {
				found = strcmp(fields[i + 1], "fuse.daxfs-fuse") == 0;
				o->allow_other = found && strstr(fields[i + 3], "allow_other");
				break;
			}
	}
	fclose(f);
	if (!found) {
		ctl_error(cmd, "%s: not the mount point of a daxfs-fuse mount", o->mnt);
		return -1;
	}
	return 0;
}

/* Values go into the configuration between double quotes or bare: refuse
 * anything that could end a string or a statement. */
static bool safe_text(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr(extra, *s))
			return false;
	return true;
}

static int parse_squash(const char *s, const char **out)
{
	static const char *const names[][2] = {
		{ "root", "root_squash" }, { "all", "all_squash" }, { "none", "no_root_squash" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i][0]) == 0) {
			*out = names[i][1];
			return 0;
		}
	return ctl_usage_error(cmd, "--squash must be root, all or none, not '%s'", s);
}

static int parse_args(int argc, char **argv, struct export_opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'c' },
		{ "squash", required_argument, NULL, 's' },
		{ "pseudo", required_argument, NULL, 'P' },
		{ "bind", required_argument, NULL, 'b' },
		{ "grace", required_argument, NULL, 'g' },
		{ 0 },
	};
	uint64_t v;
	int c;

	*o = (struct export_opts){ .port = 2049, .clients = "127.0.0.1", .squash = "root_squash",
				   .pseudo = "/export", .bind = "0.0.0.0", .grace = 90 };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_u64(optarg, &v) || v == 0 || v > 65535)
				return ctl_usage_error(cmd, "--port must be 1-65535, not '%s'", optarg);
			o->port = (unsigned)v;
			break;
		case 'c':
			o->clients = optarg;
			break;
		case 's':
			if (parse_squash(optarg, &o->squash))
				return CLI_EXIT_USAGE;
			break;
		case 'P':
			o->pseudo = optarg;
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 'g':
			/* Ganesha's Grace_Period range */
			if (cli_parse_u64(optarg, &v) || v > 180)
				return ctl_usage_error(cmd, "--grace must be 0-180 seconds, not '%s'",
						       optarg);
			o->grace = (unsigned)v;
			break;
		default:
			return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return ctl_usage_error(cmd, argc - optind < 2 ? "missing %s" : "too many arguments",
				       argc - optind < 1 ? "MOUNTPOINT and DIR" : "DIR");
	if (!realpath(argv[optind], o->mnt)) {
		ctl_error(cmd, "%s: %s", argv[optind], strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (strlen(argv[optind + 1]) >= sizeof(o->dir) - 32)
		return ctl_usage_error(cmd, "DIR is too long");
	snprintf(o->dir, sizeof(o->dir), "%s", argv[optind + 1]);

	if (!o->clients[0] || !safe_text(o->clients, ".:/*?@_-,[]"))
		return ctl_usage_error(cmd, "--clients: '%s' is not a comma-separated list of "
				       "addresses, networks (a.b.c.d/n), host names, @netgroups or *",
				       o->clients);
	if (o->pseudo[0] != '/' || strstr(o->pseudo, "//") || strstr(o->pseudo, "/../") ||
	    strstr(o->pseudo, "/./") || !safe_text(o->pseudo, "/._-"))
		return ctl_usage_error(cmd, "--pseudo: '%s' is not an absolute path of letters, "
				       "digits, '.', '_' and '-'", o->pseudo);
	{
		unsigned char addr[16];

		if (inet_pton(AF_INET, o->bind, addr) != 1 && inet_pton(AF_INET6, o->bind, addr) != 1)
			return ctl_usage_error(cmd, "--bind: '%s' is not an IPv4 or IPv6 address",
					       o->bind);
	}
	return 0;
}

static void write_config(FILE *f, const struct export_opts *o)
{
	fprintf(f,
		"# NFS-Ganesha configuration serving the daxfs-fuse mount %s over NFSv4,\n"
		"# written by daxfs-ctl export. Start:\n"
		"#   ganesha.nfsd -F -f %s/ganesha.conf -L %s/ganesha.log -p %s/ganesha.pid\n"
		"# Stop Ganesha (SIGTERM) before unmounting: it keeps files of the mount open.\n\n",
		o->mnt, o->dir, o->dir, o->dir);
	fprintf(f,
		"NFS_CORE_PARAM {\n"
		"\t# NFSv4 over TCP only: clients connect to this one port, so no\n"
		"\t# rpcbind, mountd, NLM (NFSv4 has its own locks) or rquota. Ganesha\n"
		"\t# still tries to register with rpcbind and logs \"Cannot register\n"
		"\t# NFS V4 on TCP\" when none runs: harmless for NFSv4 clients.\n"
		"\tProtocols = 4;\n"
		"\tNFS_Port = %u;\n"
		"\tBind_Addr = %s;\n"
		"\tEnable_NLM = false;\n"
		"\tEnable_RQUOTA = false;\n"
		"\tEnable_UDP = false;\n"
		"}\n\n", o->port, o->bind);
	fprintf(f,
		"NFSV4 {\n"
		"\t# The clients' open and lock state, kept so that they can reclaim it\n"
		"\t# after a restart of Ganesha, during the grace period.\n"
		"\tRecoveryBackend = fs;\n"
		"\tRecoveryRoot = \"%s/recovery\";\n", o->dir);
	if (o->grace)
		fprintf(f,
			"\t# For this long after a start, only reclaims are served: new OPENs\n"
			"\t# get NFS4ERR_GRACE (clients retry).\n"
			"\tGrace_Period = %u;\n", o->grace);
	else
		fprintf(f,
			"\t# No grace period (--grace 0): served at once after a start, but a\n"
			"\t# client may take a lock another client held before the restart\n"
			"\t# and has not reclaimed yet.\n"
			"\tGraceless = true;\n");
	fprintf(f,
		"\t# NFSv4 names owners as strings. With sec=sys the client's numeric\n"
		"\t# uid and gid are what count, and Linux clients send owners as numbers\n"
		"\t# (\"1000\") under sec=sys; answering with numbers too keeps owners as\n"
		"\t# the server's inodes have them. Names (\"user@domain\") would need the\n"
		"\t# same users and the same idmapd Domain on both sides; a name the other\n"
		"\t# side cannot map shows as nobody (65534).\n"
		"\tAllow_Numeric_Owners = true;\n"
		"\tOnly_Numeric_Owners = true;\n"
		"}\n\n");
	fprintf(f,
		"NFS_KRB5 {\n"
		"\t# sec=sys only (below): no Kerberos credentials to look for.\n"
		"\tActive_krb5 = false;\n"
		"}\n\n");
	fprintf(f,
		"EXPORT {\n"
		"\tExport_Id = 1;\n"
		"\tPath = \"%s\";\n"
		"\t# Where clients find it: mount -t nfs4 SERVER:%s\n"
		"\tPseudo = \"%s\";\n"
		"\tProtocols = 4;\n"
		"\tTransports = TCP;\n"
		"\t# sec=sys (AUTH_SYS): the server takes the uid and gids a client sends\n"
		"\t# on its word, so only hosts trusted to be honest about their users\n"
		"\t# belong in Clients. Kerberos (krb5) needs a KDC and keytabs.\n"
		"\tSecType = sys;\n"
		"\t# Nobody but the hosts below.\n"
		"\tAccess_Type = None;\n"
		"\t# The mount changes through local processes and libdaxfs too: let\n"
		"\t# Ganesha ask for attributes every time instead of caching them for\n"
		"\t# a minute (the kernel's FUSE cache answers most of those asks).\n"
		"\tAttr_Expiration_Time = 0;\n"
		"\tCLIENT {\n"
		"\t\tClients = %s;\n"
		"\t\tAccess_Type = RW;\n"
		"\t\tProtocols = 4;\n"
		"\t\t# root_squash: a client's root acts as nobody (Anonymous_Uid\n"
		"\t\t# 65534); all_squash: every user does; no_root_squash: a client's\n"
		"\t\t# root is root here (only for clients trusted with everything).\n"
		"\t\tSquash = %s;\n"
		"\t}\n"
		"\t# The kernel's VFS: files are opened by handle (open_by_handle_at) on\n"
		"\t# the mount, which daxfs-fuse's export support resolves.\n"
		"\tFSAL {\n"
		"\t\tName = VFS;\n"
		"\t}\n"
		"}\n\n", o->mnt, o->pseudo, o->pseudo, o->clients, o->squash);
	fprintf(f,
		"LOG {\n"
		"\t# Without a system D-Bus, Ganesha logs DBUS CRIT lines at start: its\n"
		"\t# D-Bus control interface is off, serving is not affected.\n"
		"\tDefault_Log_Level = EVENT;\n"
		"}\n");
}

/* Writes DIR/ganesha.conf through a temporary file, so that a running
 * Ganesha reloading it (SIGHUP) never reads half of it. */
static int write_file(struct export_opts *o)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	int fd;
	FILE *f;

	if (mkdir(o->dir, 0700) && errno != EEXIST) {
		ctl_error(cmd, "%s: %s", o->dir, strerror(errno));
		return -1;
	}
	/* Ganesha takes the paths in the file relative to where it starts */
	errno = 0;
	if (!realpath(o->dir, path) || strlen(path) >= sizeof(o->dir) - 32) {
		ctl_error(cmd, "%s: %s", o->dir, errno ? strerror(errno) : "path too long");
		return -1;
	}
	snprintf(o->dir, sizeof(o->dir), "%s", path);
	if (strpbrk(o->dir, "\"\\\n") || strpbrk(o->mnt, "\"\\\n")) {
		ctl_error(cmd, "%s: a path with '\"', '\\' or a newline cannot go into "
			  "Ganesha's configuration", strpbrk(o->dir, "\"\\\n") ? o->dir : o->mnt);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/recovery", o->dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		ctl_error(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ganesha.conf", o->dir);
	snprintf(tmp, sizeof(tmp), "%s/.ganesha.conf.XXXXXX", o->dir);
	fd = mkstemp(tmp);
	if (fd < 0) {
		ctl_error(cmd, "%s: %s", o->dir, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		ctl_error(cmd, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	write_config(f, o);
	if (fflush(f) || fsync(fd) || ferror(f)) {
		ctl_error(cmd, "%s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path)) {
		ctl_error(cmd, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int export_run(int argc, char **argv)
{
	struct export_opts o;
	int ret = parse_args(argc, argv, &o);

	if (ret)
		return ret;
	if (check_mount(&o) || write_file(&o))
		return CLI_EXIT_FAIL;
	printf("wrote %s/ganesha.conf: %s as %s over NFSv4, port %u, for %s (%s)\n",
	       o.dir, o.mnt, o.pseudo, o.port, o.clients, o.squash);
	printf("start NFS-Ganesha (SIGTERM stops it; without -F it runs in the background):\n");
	printf("  ganesha.nfsd -F -f %s/ganesha.conf -L %s/ganesha.log -p %s/ganesha.pid\n",
	       o.dir, o.dir, o.dir);
	printf("mount on a client:\n");
	printf("  mount -t nfs4 -o port=%u,sec=sys SERVER:%s MOUNTPOINT\n", o.port, o.pseudo);
	printf("  nfs-ls 'nfs://SERVER%s?version=4&nfsport=%u'\n", o.pseudo, o.port);
	if (!o.allow_other)
		fprintf(stderr, "%s %s: warning: %s is not mounted with -o allow_other: only root's "
			"NFS requests can reach it (others get NFS4ERR_ACCESS)\n",
			ctl_progname, cmd->name, o.mnt);
	return CLI_EXIT_OK;
}

const struct ctl_command ctl_export_command = {
	.name = "export",
	.usage = "MOUNTPOINT DIR [--port N] [--clients LIST] [--squash root|all|none] "
		 "[--pseudo PATH] [--bind ADDR] [--grace SECONDS]",
	.help =
		"Writes DIR/ganesha.conf, an NFS-Ganesha configuration that serves the\n"
		"daxfs-fuse mount at MOUNTPOINT over NFSv4 (TCP, VFS backend), creates\n"
		"DIR/recovery for Ganesha's client state, and prints the command that starts\n"
		"Ganesha and how clients mount it. The file explains each setting.\n"
		"  --port N          NFS port (default 2049)\n"
		"  --clients LIST    hosts that may mount it, read-write: addresses,\n"
		"                    networks a.b.c.d/n, host names, @netgroups or *,\n"
		"                    comma-separated (default 127.0.0.1)\n"
		"  --squash MODE     root (default): a client's root is nobody; all: every\n"
		"                    client user is; none: client uids are taken as they are\n"
		"  --pseudo PATH     the path clients mount (default /export)\n"
		"  --bind ADDR       the address to listen on (default 0.0.0.0, all)\n"
		"  --grace SECONDS   NFSv4 grace period after a start (default 90; 0: none)\n"
		"Mount MOUNTPOINT with -o allow_other so that users other than root reach it.\n",
	.run = export_run,
};
