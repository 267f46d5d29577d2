/* Errors, logging and exit codes shared by every tool. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tool_name = "arepo";
static enum log_level current_level = LOG_WARN;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	tool_name = slash ? slash + 1 : name;
}

const char *log_tool_name(void) { return tool_name; }
void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

int log_parse_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warning") == 0)
		return LOG_WARN;
	return -1;
}

static void vprint(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	/* One message is one line, whatever the formatted values contain. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (level == LOG_ERROR)
		fprintf(stderr, "%s: %s\n", tool_name, line);
	else
		fprintf(stderr, "%s: %s: %s\n", tool_name, level_names[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > current_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprint(level, fmt, ap);
	va_end(ap);
}

int err_set(struct arepo_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

void die_err(const struct arepo_err *e)
{
	log_msg(LOG_ERROR, "%s", e->msg[0] ? e->msg : "unknown error");
	exit(e->code ? e->code : EXIT_RUNTIME);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}
