/* Unit tests of atomic outputs: complete or absent, never half-written. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "tap.h"

static char dir[] = "/tmp/arepo-test-atomic-XXXXXX";

static int entries(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int read_back(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

/* The name of a planted temporary (fmt with the host, if it has %s, and
 * the owner's pid) and its path in dir. */
static void case_path(const char *dir, const char *fmt, const char *host, long owner, char *name,
		      size_t namesize, char *path, size_t pathsize)
{
	if (strstr(fmt, "%s"))
		snprintf(name, namesize, fmt, host, owner);
	else
		snprintf(name, namesize, fmt, owner);
	snprintf(path, pathsize, "%s/%s", dir, name);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! cannot make a scratch directory\n");
		return 1;
	}
	char target[512], buf[64];
	struct arepo_err err = { 0 };
	snprintf(target, sizeof target, "%s/out.txt", dir);

	is_int(atomic_write_file(target, "first", 5, &err), 0, "atomic_write_file writes");
	ok(read_back(target, buf, sizeof buf) == 0 && strcmp(buf, "first") == 0, "with the content");
	is_int(entries(), 1, "and leaves no temporary file");
	is_int(atomic_write_file(target, "second", 6, &err), 0, "a second write replaces it");
	ok(read_back(target, buf, sizeof buf) == 0 && strcmp(buf, "second") == 0, "whole");

	struct atomic_output out;
	is_int(atomic_begin(&out, target, &err), 0, "atomic_begin");
	ok(strncmp(out.temp, dir, strlen(dir)) == 0 && strstr(out.temp, "/.out.txt.part-"),
	   "the temporary name is hidden beside the target (%s)", out.temp);
	FILE *f = fopen(out.temp, "w");
	fputs("third", f);
	fclose(f);
	ok(read_back(target, buf, sizeof buf) == 0 && strcmp(buf, "second") == 0,
	   "until commit, the target keeps its old content");
	atomic_abort(&out);
	is_int(entries(), 1, "abort removes the temporary file");

	/* A directory output, as a multi-file snapshot. */
	char tdir[512], piece[PATH_MAX + 16];
	snprintf(tdir, sizeof tdir, "%s/snapdir_001", dir);
	atomic_begin(&out, tdir, &err);
	mkdir(out.temp, 0777);
	snprintf(piece, sizeof piece, "%s/p.0", out.temp);
	f = fopen(piece, "w");
	fputs("x", f);
	fclose(f);
	is_int(atomic_commit(&out, &err), 0, "a directory commits");
	snprintf(piece, sizeof piece, "%s/p.0", tdir);
	ok(access(piece, F_OK) == 0, "with its files");

	/* Killed while writing: neither the target nor the temporary is left. */
	char killed[512];
	snprintf(killed, sizeof killed, "%s/killed.h5", dir);
	int ready[2];
	if (pipe(ready) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		struct atomic_output o;
		atomic_begin(&o, killed, &err);
		FILE *g = fopen(o.temp, "w");
		fputs("partial", g);
		fflush(g);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		return 1;
	kill(pid, SIGTERM);
	int status;
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the writer died of SIGTERM");
	ok(access(killed, F_OK) != 0, "no target after an interrupted write");
	is_int(entries(), 2, "and no temporary file either");

	/* Exit without committing (an error path that forgot to abort). */
	pid = fork();
	if (pid == 0) {
		struct atomic_output o;
		atomic_begin(&o, killed, &err);
		FILE *g = fopen(o.temp, "w");
		fputs("partial", g);
		fclose(g);
		exit(1);
	}
	waitpid(pid, &status, 0);
	is_int(entries(), 2, "exit without commit leaves no temporary file");

	/* Stale temporaries: removed when their owner is dead on this host,
	 * kept when it lives, when another host made them, or when someone
	 * holds them locked. */
	char sdir[600], host[256], name[1024], path[2048], starget[700];
	snprintf(sdir, sizeof sdir, "%s/stale", dir);
	mkdir(sdir, 0777);
	snprintf(starget, sizeof starget, "%s/v.h5", sdir);
	atomic_begin(&out, starget, &err);
	const char *h = strstr(out.temp, ".part-") + 6;
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(h, '-') - h), h);
	*strrchr(host, '-') = '\0'; /* the host, without "-<pid>" */
	atomic_abort(&out);
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0); /* pid is now dead (and not reused within this test) */
	const struct { const char *fmt; int kept; const char *why; } cases[] = {
		{ ".a.h5.part-%s-%ld-0", 0, "a temporary of a dead process on this host: removed" },
		{ ".b.h5.part-%s-%ld-3", 1, "a temporary of a live process: kept" },
		{ ".c.h5.part-%s-%ld-1", 1, "a temporary held locked: kept" },
		{ ".d.h5.part-other.host-%ld-0", 1, "a temporary of another host: kept" },
		{ ".e.h5.part-%ld-0", 1, "a temporary of the old form, with no host: kept" },
		{ "f.h5", 1, "a file that is not a temporary: kept" },
		{ ".snapdir_9.part-%s-%ld-2", 0, "a temporary directory of a dead process: removed" },
	};
	int lock_fd = -1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		case_path(sdir, cases[i].fmt, host, i == 1 ? (long)getppid() : (long)pid, name,
			  sizeof name, path, sizeof path);
		if (i == 6) {
			mkdir(path, 0777);
			snprintf(path + strlen(path), sizeof path - strlen(path), "/piece.0");
		}
		FILE *g = fopen(path, "w");
		fputs("x", g);
		fclose(g);
		if (i == 2) {
			lock_fd = open(path, O_RDONLY);
			flock(lock_fd, LOCK_EX);
		}
	}
	/* The lock is another open file's: a child holds it, as a live writer would. */
	int held[2];
	if (pipe(held) != 0)
		return 1;
	pid_t holder = fork();
	if (holder == 0) {
		if (write(held[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(lock_fd); /* the child's copy keeps the lock */
	if (read(held[0], &c, 1) != 1)
		return 1;
	is_int(atomic_remove_stale(sdir), 2, "atomic_remove_stale removes two stale temporaries");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		case_path(sdir, cases[i].fmt, host, i == 1 ? (long)getppid() : (long)pid, name,
			  sizeof name, path, sizeof path);
		is_int(access(path, F_OK) == 0, cases[i].kept, "%s (%s)", cases[i].why, name);
	}
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	is_int(atomic_remove_stale(sdir), 1, "once its holder is gone, the locked one goes too");

	/* An unwritable directory: a clear error, nothing left. */
	snprintf(target, sizeof target, "%s/no/such/dir/file", dir);
	ok(atomic_write_file(target, "x", 1, &err) == EXIT_RUNTIME && strstr(err.msg, "no/such/dir"),
	   "a write into a missing directory fails naming the path");

	remove_tree(dir);
	ok(access(dir, F_OK) != 0, "remove_tree removes a tree");
	return tap_done();
}
