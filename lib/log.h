/* Errors, logging and exit codes shared by every tool: one-line messages on
 * stderr prefixed by the tool's name, a run-time log level. */
#ifndef AREPO_LOG_H
#define AREPO_LOG_H

#include <stdarg.h>

/* Exit statuses of every tool (README.md, "Exit status"; every man page). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* I/O, remote, MPI */
	EXIT_USAGE = 2,   /* command line or configuration */
	EXIT_BADDATA = 3  /* input data that cannot be used */
};

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* An error carried up from the library to the tool, which prints it once.
 * code is one of the exit statuses above; 0 means no error. */
struct arepo_err {
	int code;
	char msg[1024];
};

void log_init(const char *tool_name);
const char *log_tool_name(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_parse_level(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Records an error; returns code so that callers can write
 * "return err_set(e, EXIT_BADDATA, ...)". A NULL e is allowed. */
int err_set(struct arepo_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints e (if set) and exits with its code. (The attribute rather than
 * _Noreturn: this header is also read by the CUDA compiler, as C++.) */
void die_err(const struct arepo_err *e) __attribute__((noreturn));
void die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

#endif
