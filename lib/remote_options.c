/* The command-line options of remote access (see remote_options.h). */
#include "remote_options.h"

#include "cli.h"

int remote_option(struct remote *r, int opt, const char *arg)
{
	switch (opt) {
	case 'r': r->host = arg; return 1;
	case 'i': r->key = arg; return 1;
	case 'p': r->port = (int)cli_parse_count("--port", arg); return 1;
	case REMOTE_OPT_SSH_OPTION:
		if (r->noptions == (int)(sizeof r->options / sizeof r->options[0]))
			cli_usage_error("too many --ssh-option");
		r->options[r->noptions++] = arg;
		return 1;
	case REMOTE_OPT_TIMEOUT: r->timeout = (int)cli_parse_count("--timeout", arg); return 1;
	case REMOTE_OPT_ACCEPT_NEW: r->accept_new = 1; return 1;
	}
	return 0;
}
