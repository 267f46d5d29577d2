/* Command-line pieces every tool shares: --config, --set, --log-level,
 * --help and --version, and loading the configuration they describe. */
#ifndef AREPO_CLI_H
#define AREPO_CLI_H

#include <getopt.h>

#include "config.h"

enum {
	CLI_OPT_CONFIG = 1000,
	CLI_OPT_SET,
	CLI_OPT_LOG_LEVEL,
	CLI_OPT_VERSION,
	CLI_OPT_PROGRESS,
	CLI_OPT_NO_PROGRESS,
	CLI_OPT_FIRST_TOOL /* a tool numbers its own long-only options from here */
};

/* --log-level, --help and --version: every tool. */
#define CLI_BASIC_OPTIONS                                           \
	{ "log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL }, \
	{ "help", no_argument, NULL, 'h' },                          \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }

/* And --config, --set: the tools that read the configuration. */
#define CLI_COMMON_OPTIONS                                    \
	{ "config", required_argument, NULL, CLI_OPT_CONFIG }, \
	{ "set", required_argument, NULL, CLI_OPT_SET },       \
	CLI_BASIC_OPTIONS

/* --progress and --no-progress: the long-running tools. */
#define CLI_PROGRESS_OPTIONS                                         \
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },          \
	{ "no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS }
#define CLI_PROGRESS_HELP                                                                   \
	"      --progress         show progress (default: on a terminal, not under Slurm)\n" \
	"      --no-progress      do not show progress\n"

#define CLI_COMMON_HELP                                                         \
	"  --config FILE          configuration (IRIS hyper.json keys)\n"        \
	"  --set SECTION.KEY=VAL  override one configuration key (repeatable)\n" \
	"  --log-level LEVEL      error, warn (default), info or debug\n"        \
	"  -h, --help             show this help and exit\n"                     \
	"  --version              show the version and exit\n"

struct cli_common {
	const char *config_path;
	const char **sets;
	int nsets;
	const char *usage; /* the tool's whole --help text */
	int progress;      /* --progress, --no-progress, or cli_progress_default() */
};

/* Starts logging under the tool's name. */
void cli_init(struct cli_common *cli, const char *argv0, const char *usage);
/* Handles a common option; returns 1 if opt was one, 0 otherwise.
 * --help and --version exit 0; a bad --log-level exits 2. */
int cli_common_option(struct cli_common *cli, int opt, const char *arg);
/* A usage error in one line, "TOOL: WHAT. Try 'TOOL --help' for more
 * information.", and exit 2. With fmt NULL (getopt's '?' case) it says
 * which option getopt refused (cli_init turns getopt's own messages off). */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Defaults, then --config, then every --set in order, then validation. */
int cli_load_config(const struct cli_common *cli, struct arepo_config *cfg, struct arepo_err *err);
/* Parses a non-negative integer option value or exits 2 naming the option. */
long long cli_parse_count(const char *option, const char *text);
/* Parses a size in bytes with an optional K, M, G or T suffix (powers of
 * 1024), or exits 2 naming the option. */
unsigned long long cli_parse_size(const char *option, const char *text);
/* --device N (0 to 1023) and --gpu-lock DIR (not empty) of the tools with
 * a CUDA backend, or exit 2. */
int cli_parse_device(const char *text);
const char *cli_parse_gpu_lock(const char *text);
/* Show progress: on a terminal, unless under Slurm. */
int cli_progress_default(void);
/* The progress line on stderr, "\rTOOL: WHAT: N%" (what may be NULL),
 * redrawn when the percentage changes; done == total ends the line. Safe
 * to call from several threads or processes sharing stderr. */
void cli_progress_show(const char *what, double done, double total);

#endif
