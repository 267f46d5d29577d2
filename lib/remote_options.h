/* The command-line options of remote access, shared by arepo-list and
 * arepo-fetch: the remote layer itself knows nothing of option parsing. */
#ifndef AREPO_REMOTE_OPTIONS_H
#define AREPO_REMOTE_OPTIONS_H

#include <getopt.h>

#include "remote.h"

/* The options every remote-capable tool takes (their long forms and
 * -r, -i, -p), handled by remote_option. */
enum { REMOTE_OPT_SSH_OPTION = 1100, REMOTE_OPT_TIMEOUT, REMOTE_OPT_ACCEPT_NEW };
#define REMOTE_LONG_OPTIONS                                                      \
	{ "remote", required_argument, NULL, 'r' },                              \
	{ "ssh-key", required_argument, NULL, 'i' },                             \
	{ "port", required_argument, NULL, 'p' },                                \
	{ "ssh-option", required_argument, NULL, REMOTE_OPT_SSH_OPTION },        \
	{ "timeout", required_argument, NULL, REMOTE_OPT_TIMEOUT },              \
	{ "accept-new-host-key", no_argument, NULL, REMOTE_OPT_ACCEPT_NEW }
/* Returns 1 if opt was one of them; a bad value exits 2. */
int remote_option(struct remote *r, int opt, const char *arg);

#endif
