/* Running commands on a remote archive with OpenSSH. */
#include "remote.h"

#include <getopt.h>


#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *shell_quote(const char *text)
{
	size_t n = 2;
	for (const char *p = text; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = malloc(n + 1), *o = q;
	if (!q)
		return NULL;
	*o++ = '\'';
	for (const char *p = text; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

int remote_run(const struct remote *r, const char *command, int out_fd, char **out,
	       size_t *out_len, char *err, size_t errsize)
{
	char timeout[64], alive[64], port[16], strict[64];
	snprintf(timeout, sizeof timeout, "ConnectTimeout=%d", r->timeout > 0 ? r->timeout : 30);
	snprintf(alive, sizeof alive, "ServerAliveInterval=%d", r->timeout > 0 ? r->timeout : 30);
	snprintf(port, sizeof port, "%d", r->port);
	snprintf(strict, sizeof strict, "StrictHostKeyChecking=%s", r->accept_new ? "accept-new" : "yes");
	const char *argv[64];
	int a = 0;
	argv[a++] = "ssh";
	argv[a++] = "-o";
	argv[a++] = "BatchMode=yes";
	argv[a++] = "-o";
	argv[a++] = strict;
	argv[a++] = "-o";
	argv[a++] = timeout;
	argv[a++] = "-o";
	argv[a++] = alive;
	argv[a++] = "-o";
	argv[a++] = "ServerAliveCountMax=3";
	if (r->port > 0) {
		argv[a++] = "-p";
		argv[a++] = port;
	}
	if (r->key) {
		argv[a++] = "-i";
		argv[a++] = r->key;
	}
	for (int i = 0; i < r->noptions && a < 56; i++) {
		argv[a++] = "-o";
		argv[a++] = r->options[i];
	}
	argv[a++] = "--";
	argv[a++] = r->host;
	argv[a++] = command;
	argv[a] = NULL;

	int outp[2] = { -1, -1 }, errp[2];
	if (pipe(errp) != 0 || (out_fd < 0 && pipe(outp) != 0))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, STDIN_FILENO);
		dup2(out_fd >= 0 ? out_fd : outp[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		execvp("ssh", (char *const *)argv);
		fprintf(stderr, "cannot run ssh: %s\n", strerror(errno));
		_exit(127);
	}
	close(errp[1]);
	if (outp[1] >= 0)
		close(outp[1]);
	size_t cap = 4096, len = 0, elen = 0;
	char *buf = out_fd < 0 ? malloc(cap) : NULL;
	struct pollfd fds[2] = { { errp[0], POLLIN, 0 }, { outp[0], POLLIN, 0 } };
	int open_fds = out_fd < 0 ? 2 : 1;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char chunk[65536];
			ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				size_t room = errsize > elen + 1 ? errsize - elen - 1 : 0;
				size_t take = (size_t)n < room ? (size_t)n : room;
				memcpy(err + elen, chunk, take);
				elen += take;
			} else {
				while (len + (size_t)n + 1 > cap)
					buf = realloc(buf, cap *= 2);
				memcpy(buf + len, chunk, (size_t)n);
				len += (size_t)n;
			}
		}
	}
	if (errsize)
		err[elen] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (buf) {
		buf[len] = '\0';
		*out = buf;
		if (out_len)
			*out_len = len;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

int remote_transient(int status, const char *err)
{
	if (status != 255)
		return 0; /* the remote command ran and failed: not ssh's connection */
	static const char *const permanent[] = {
		"Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
		"Permission denied", "Could not resolve hostname", "No such file",
		"Too many authentication failures",
	};
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
		if (strstr(err, permanent[i]))
			return 0;
	return 1; /* refused, reset, timed out, closed, ... */
}

const char *remote_reason(const char *err, char *buf, size_t size)
{
	/* The last meaningful line: ssh's warnings come first. */
	const char *best = NULL;
	const char *p = err;
	while (*p) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0 && (strstr(p, "@@@@") != p))
			best = p;
		if (!end)
			break;
		p = end + 1;
	}
	if (!best) {
		snprintf(buf, size, "no message");
		return buf;
	}
	size_t n = strcspn(best, "\r\n");
	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), best);
	return buf;
}

