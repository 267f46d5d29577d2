/* Running commands on a remote archive with OpenSSH in batch mode: never a
 * prompt, host keys checked, every path quoted for the remote shell. */
#ifndef AREPO_REMOTE_H
#define AREPO_REMOTE_H

#include <stddef.h>

struct remote {
	const char *host;      /* user@host; NULL for local paths */
	const char *key;       /* identity file, or NULL */
	int port;              /* 0: ssh's default */
	int timeout;           /* seconds to connect and between keep-alives */
	int accept_new;        /* StrictHostKeyChecking=accept-new instead of yes */
	const char *options[32]; /* extra "-o" options */
	int noptions;
};

/* The string in single quotes for a POSIX shell: nothing in it is
 * interpreted. The caller frees it. */
char *shell_quote(const char *text);

/* Runs command on the remote host. Its standard output goes to out_fd when
 * out_fd >= 0, else into *out (NUL-terminated, *out_len bytes; the caller
 * frees it). Its standard error goes into err (truncated to errsize).
 * Returns ssh's exit status (255: ssh's own failure), or -1 if ssh could not
 * be started. */
int remote_run(const struct remote *r, const char *command, int out_fd, char **out,
	       size_t *out_len, char *err, size_t errsize);

/* Whether a failed run is worth retrying: connection refused, reset, timed
 * out or closed. Missing files, permissions and host keys are not. */
int remote_transient(int status, const char *err);

/* The first line of ssh's or the remote's message, for an error line. */
const char *remote_reason(const char *err, char *buf, size_t size);

#endif
