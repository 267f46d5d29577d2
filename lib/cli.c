/* Command-line pieces every tool shares. */
#define _GNU_SOURCE /* program_invocation_name */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5filter.h"
#include "h5util.h"

/* The command line, to name the option getopt refuses: glibc passes it to
 * the initialisers in .init_array, before main. */
static int saved_argc;
static char **saved_argv;
static void save_args(int argc, char **argv, char **envp)
{
	(void)envp;
	saved_argc = argc;
	saved_argv = argv;
}
__attribute__((section(".init_array"), used)) static void (*const save_args_entry)(int, char **, char **) =
	save_args;

void cli_init(struct cli_common *cli, const char *argv0, const char *usage)
{
	log_init(argv0);
	/* Any message of the C library names the tool as ours do; getopt's own
	 * are replaced by one line (cli_usage_error). */
	program_invocation_name = (char *)log_tool_name();
	opterr = 0;
	h5_own_shutdown();
	/* Compressed tensors read (and normalize rewrites them) without a plugin. */
	h5filter_register();
	cli->config_path = NULL;
	cli->sets = NULL;
	cli->nsets = 0;
	cli->usage = usage;
	cli->progress = cli_progress_default();
}

int cli_common_option(struct cli_common *cli, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_CONFIG:
		cli->config_path = arg;
		return 1;
	case CLI_OPT_SET: {
		const char **grown = realloc(cli->sets, (size_t)(cli->nsets + 1) * sizeof *grown);
		if (!grown)
			die(EXIT_RUNTIME, "out of memory");
		cli->sets = grown;
		cli->sets[cli->nsets++] = arg;
		return 1;
	}
	case CLI_OPT_PROGRESS:
		cli->progress = 1;
		return 1;
	case CLI_OPT_NO_PROGRESS:
		cli->progress = 0;
		return 1;
	case CLI_OPT_LOG_LEVEL: {
		int level = log_parse_level(arg);
		if (level < 0)
			cli_usage_error("--log-level %s: expected error, warn, info or debug", arg);
		log_set_level(level);
		return 1;
	}
	case 'h':
		fputs(cli->usage, stdout);
		exit(EXIT_OK);
	case CLI_OPT_VERSION:
		printf("%s %s (CUDA build: %s)\narepo-tools %s\n", log_tool_name(), AREPO_VERSION,
		       AREPO_WITH_CUDA ? "yes" : "no", AREPO_VERSION);
		exit(EXIT_OK);
	}
	return 0;
}

/* What getopt refused, from its state after returning '?' or ':'. */
static void getopt_problem(char *line, size_t size)
{
	const char *arg = optind > 0 && optind <= saved_argc && saved_argv ? saved_argv[optind - 1] : NULL;
	if (arg && strncmp(arg, "--", 2) == 0) {
		const char *eq = strchr(arg, '=');
		int len = eq ? (int)(eq - arg) : (int)strlen(arg);
		if (!optopt)
			snprintf(line, size, "unknown or ambiguous option '%.*s'", len, arg);
		else if (eq)
			snprintf(line, size, "option '%.*s' takes no argument", len, arg);
		else
			snprintf(line, size, "option '%.*s' requires an argument", len, arg);
	} else if (optopt > 32 && optopt < 127) {
		snprintf(line, size, "option '-%c' is unknown or lacks its argument", optopt);
	} else {
		snprintf(line, size, "a malformed option");
	}
}

void cli_usage_error(const char *fmt, ...)
{
	char line[1024];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
	} else {
		getopt_problem(line, sizeof line);
	}
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s: %s. Try '%s --help' for more information.\n", log_tool_name(), line,
		log_tool_name());
	exit(EXIT_USAGE);
}

int cli_load_config(const struct cli_common *cli, struct arepo_config *cfg, struct arepo_err *err)
{
	int rc;
	config_defaults(cfg);
	if (cli->config_path && (rc = config_load_file(cfg, cli->config_path, err)))
		return rc;
	for (int i = 0; i < cli->nsets; i++)
		if ((rc = config_set(cfg, cli->sets[i], err)))
			return rc;
	return config_validate(cfg, err);
}

long long cli_parse_count(const char *option, const char *text)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < 0)
		cli_usage_error("%s %s: expected a non-negative integer", option, text);
	return v;
}

int cli_parse_device(const char *text)
{
	long long n = cli_parse_count("--device", text);
	if (n > 1023)
		cli_usage_error("--device %s: expected 0 to 1023", text);
	return (int)n;
}

const char *cli_parse_gpu_lock(const char *text)
{
	if (!*text)
		cli_usage_error("--gpu-lock: expected a directory");
	return text;
}

unsigned long long cli_parse_size(const char *option, const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end), unit = 1;
	switch (*end) {
	case 'K': case 'k': unit = 1024.0; end++; break;
	case 'M': case 'm': unit = 1024.0 * 1024; end++; break;
	case 'G': case 'g': unit = 1024.0 * 1024 * 1024; end++; break;
	case 'T': case 't': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (errno || end == text || *end || !(v > 0) || v * unit > 1e18)
		cli_usage_error("%s %s: expected a size such as 512M", option, text);
	return (unsigned long long)(v * unit);
}

void cli_progress_show(const char *what, double done, double total)
{
	static int last = -1;
	int percent = total > 0 ? (int)(100 * (done < total ? done : total) / total) : 100;
	if (percent == last)
		return;
	last = percent;
	/* One write per line, so that lines of several processes do not mix. */
	char line[512];
	int n = snprintf(line, sizeof line, "\r%s: %s%s%3d%%%s", log_tool_name(), what ? what : "",
			 what ? ": " : "", percent, percent == 100 ? "\n" : "");
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		last = -1;
}

int cli_progress_default(void)
{
	return isatty(STDERR_FILENO) && !getenv("SLURM_JOB_ID");
}
