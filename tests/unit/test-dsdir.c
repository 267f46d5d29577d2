/* Unit tests of dataset directories: temporary names, the journal read back
 * with any bytes in its names, finishing committed and uncommitted moves,
 * and the lock's holder line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "dsdir.h"
#include "tap.h"

static char dir[] = "/tmp/arepo-test-dsdir-XXXXXX";

static void touch(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static int exists(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int committed_first(const char *dest, void *ctx)
{
	return strcmp(dest, (const char *)ctx) == 0;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! cannot make a scratch directory\n");
		return 1;
	}
	struct arepo_err err = { 0 };
	ok(atomic_is_temporary(".a.h5.part-node1-123-4"), "a temporary name (host, pid, serial)");
	ok(!atomic_is_temporary("a.h5.part-node1-123-4"), "not without the leading dot");
	ok(!atomic_is_temporary(".a.h5.part-node1-123-x") && !atomic_is_temporary(".a.part-12"),
	   "nor with a broken ending");

	/* Names with every awkward byte: % newline quotes dash space. */
	const char *names[] = { "-a %b%%\n\"q'.h5", "b.h5", "c.h5" };
	char tensors[600];
	snprintf(tensors, sizeof tensors, "%s/tensors", dir);
	mkdir(tensors, 0777);
	struct dsdir_journal j = { 0 };
	for (int i = 0; i < 3; i++) {
		char src[256], dest[256];
		snprintf(src, sizeof src, "src%d %s", i, names[i]);
		touch(src, "x");
		snprintf(dest, sizeof dest, "tensors/%s", names[i]);
		touch(dest, "x");
		snprintf(src, sizeof src, "%s/src%d %s", dir, i, names[i]);
		is_int(dsdir_journal_add_move(&j, dest, src, i != 2, &err), 0, "journal move %d", i);
	}
	is_int(dsdir_journal_write(dir, &j, &err), 0, "journal written");
	struct dsdir_journal back;
	is_int(dsdir_journal_read(dir, &back, &err), 0, "and read back");
	int same = back.nmoves == 3;
	for (size_t i = 0; same && i < 3; i++)
		same = strcmp(back.moves[i].dest, j.moves[i].dest) == 0 &&
		       strcmp(back.moves[i].source, j.moves[i].source) == 0 &&
		       back.moves[i].remove_source == j.moves[i].remove_source &&
		       back.moves[i].id.ino == j.moves[i].id.ino && back.moves[i].id.mtime_ns == j.moves[i].id.mtime_ns;
	ok(same, "byte for byte, names with %%, newline, quotes, a dash, spaces");

	/* Move 0 committed (its source goes); 1 and 2 not (their placed files go). */
	char first[300];
	snprintf(first, sizeof first, "tensors/%s", names[0]);
	is_int(dsdir_journal_finish(dir, &back, committed_first, first, &err), 0, "finished");
	char src0[300];
	snprintf(src0, sizeof src0, "src0 %s", names[0]);
	ok(!exists(src0) && exists(first), "committed: the source removed, the tensor kept");
	ok(!exists("tensors/b.h5") && !exists("tensors/c.h5") && exists("src1 b.h5") && exists("src2 c.h5"),
	   "not committed: the placed files removed, the sources kept");
	ok(back.moves[0].outcome == DSDIR_DONE && back.moves[1].outcome == DSDIR_UNDONE, "outcomes");
	ok(!exists(DSDIR_JOURNAL), "the journal removed");
	dsdir_journal_free(&back);
	dsdir_journal_free(&j);

	/* A source replaced since it was journaled is not removed. */
	touch("tensors/d.h5", "x");
	touch("src d.h5", "x");
	char src[600];
	snprintf(src, sizeof src, "%s/src d.h5", dir);
	dsdir_journal_add_move(&j, "tensors/d.h5", src, 1, &err);
	unlink(src);
	touch("src d.h5", "another file");
	dsdir_journal_finish(dir, &j, committed_first, "tensors/d.h5", &err);
	ok(exists("src d.h5") && j.moves[0].outcome == DSDIR_CHANGED, "a changed source stays");
	dsdir_journal_free(&j);

	/* Temporaries: any owner in the locked directory and its subdirectories. */
	touch(".dataset.h5.part-node1-1-0", "");
	touch("tensors/.x.h5.part-node2-2-3", "");
	touch("tensors/y.h5.part", "");
	is_int(dsdir_remove_temporaries(dir), 3, "three temporaries removed");

	/* The lock: a second holder (another open file) is told who holds it. */
	struct dsdir_lock a, b;
	is_int(dsdir_lock(&a, dir, 0, &err), 0, "lock taken");
	is_int(dsdir_lock(&b, dir, DSDIR_NOWAIT, &err), 1, "a second one with DSDIR_NOWAIT: 1");
	char want[64];
	snprintf(want, sizeof want, "(pid %ld on ", (long)getpid());
	ok(strstr(err.msg, want) != NULL && strstr(err.msg, " UTC); not waiting") != NULL,
	   "names the holder, its pid and since when: %s", err.msg);
	dsdir_unlock(&a);
	is_int(dsdir_lock(&b, dir, DSDIR_NOWAIT, &err), 0, "free again once released");
	dsdir_unlock(&b);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
