/*
 * Option parsing in the sshfs style: an offsetof table for the options
 * that are plain values, a key for the ones that need checking, and the
 * fstab noise (auto, noauto, user, _netdev) discarded.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_opt.h>

#include "duration.h"
#include "log.h"
#include "options.h"

#define DEFAULT_POLL_S 5.0
#define DEFAULT_TTL_S  2.0

enum { KEY_POLL, KEY_TTL, KEY_LOG_LEVEL, KEY_KEEP };

#define OPT(t, p)                                                              \
	{                                                                      \
		t, offsetof(struct options, p), 1                              \
	}

static const struct fuse_opt option_spec[] = {
    OPT("config=%s", config_path),
    OPT("state=%s", state_dir),
    OPT("platform=%s", platform),
    FUSE_OPT_KEY("poll=", KEY_POLL),
    FUSE_OPT_KEY("ttl=", KEY_TTL),
    FUSE_OPT_KEY("log_level=", KEY_LOG_LEVEL),
    FUSE_OPT_KEY("keep=", KEY_KEEP),
    FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_END,
};

/* fuse_opt_parse() hands one pointer to both the offsets and the key
 * callback, so the options come first and the rest rides behind them. */
struct parse_ctx {
	struct options opts;
	char *first_nonopt; /* the mountpoint, or fstab's source before it */
	int nonopts;
	char *err;
	size_t errlen;
	int rc;
};

static int parse_seconds(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end != '\0' || !(v > 0) || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * mount(8) runs a fuse.jobfs line of /etc/fstab as `jobfs SOURCE
 * MOUNTPOINT -o ...`: of two plain arguments the first is the source,
 * which jobfs does not need. The first one is held back until it is
 * known which it is.
 */
static int keep_mountpoint(struct parse_ctx *ctx, const char *arg)
{
	if (++ctx->nonopts == 1) {
		ctx->first_nonopt = strdup(arg);
		return ctx->first_nonopt ? 0 : -1;
	}
	return 1; /* the mountpoint (and a third one, for libfuse to refuse) */
}

static int parse_log_level(struct parse_ctx *ctx, const char *arg)
{
	enum log_level level;
	if (log_level_parse(strchr(arg, '=') + 1, &level) == 0) {
		ctx->opts.log_level = (int)level;
		return 0;
	}
	snprintf(ctx->err, ctx->errlen,
		 "bad option \"%s\": expected error, warning, info or debug",
		 arg);
	ctx->rc = -EINVAL;
	return -1;
}

static int parse_keep(struct parse_ctx *ctx, const char *arg)
{
	if (duration_parse(strchr(arg, '=') + 1, &ctx->opts.keep) == 0)
		return 0;
	snprintf(ctx->err, ctx->errlen,
		 "bad option \"%s\": expected a duration such as 3600, 90m, "
		 "12h, 30d or 2w",
		 arg);
	ctx->rc = -EINVAL;
	return -1;
}

static int option_key(void *data, const char *arg, int key,
		      struct fuse_args *outargs)
{
	struct parse_ctx *ctx = data;
	if (key == FUSE_OPT_KEY_NONOPT)
		return keep_mountpoint(ctx, arg);
	if (key == KEY_LOG_LEVEL)
		return parse_log_level(ctx, arg);
	if (key == KEY_KEEP)
		return parse_keep(ctx, arg);
	if (key != KEY_POLL && key != KEY_TTL)
		return 1; /* keep for libfuse */
	const char *value = strchr(arg, '=') + 1;
	double *field = key == KEY_POLL ? &ctx->opts.poll : &ctx->opts.ttl;
	if (parse_seconds(value, field)) {
		snprintf(ctx->err, ctx->errlen,
			 "bad option \"%s\": expected seconds, more than 0 "
			 "and at most 86400",
			 arg);
		ctx->rc = -EINVAL;
		return -1;
	}
	return 0;
}

int options_parse(struct fuse_args *args, struct options *out, char *err,
		  size_t errlen)
{
	struct parse_ctx ctx = {
	    .opts = {.poll = DEFAULT_POLL_S,
		     .ttl = DEFAULT_TTL_S,
		     .log_level = -1},
	    .err = err,
	    .errlen = errlen,
	};
	int rc = fuse_opt_parse(args, &ctx, option_spec, option_key);
	if (rc == 0 && ctx.nonopts == 1)
		rc = fuse_opt_add_arg(args, ctx.first_nonopt);
	free(ctx.first_nonopt);
	*out = ctx.opts;
	if (rc != 0 && ctx.rc == 0)
		snprintf(err, errlen, "cannot parse the options");
	return rc != 0 ? -EINVAL : 0;
}

static char *default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir = NULL;
	if (xdg && *xdg) {
		if (asprintf(&dir, "%s/jobfs", xdg) < 0)
			dir = NULL;
	} else if (asprintf(&dir, "%s/.local/state/jobfs",
			    home && *home ? home : "/tmp") < 0) {
		dir = NULL;
	}
	return dir;
}

int options_finish(struct options *opts, char *err, size_t errlen)
{
	if (!opts->state_dir)
		opts->state_dir = default_state_dir();
	if (!opts->state_dir) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char *absolute = realpath(opts->state_dir, NULL);
	if (absolute) {
		free(opts->state_dir);
		opts->state_dir = absolute;
	} else if (opts->state_dir[0] != '/') {
		snprintf(err, errlen,
			 "state directory \"%s\" must exist or be absolute",
			 opts->state_dir);
		return -EINVAL;
	}
	return 0;
}

void options_release(struct options *opts)
{
	free(opts->config_path);
	free(opts->state_dir);
	free(opts->platform);
}

void options_print_help(void)
{
	printf("jobfs options:\n"
	       "    -o config=PATH         JSON config file (platforms, "
	       "defaults)\n"
	       "    -o state=DIR           SQLite database, bundles and run "
	       "output\n"
	       "                           (default $XDG_STATE_HOME/jobfs)\n"
	       "    -o platform=NAME       platform for jobs that name none "
	       "(default local)\n"
	       "    -o poll=SECONDS        poller interval (default 5)\n"
	       "    -o ttl=SECONDS         age of a cached state before a read "
	       "asks the\n"
	       "                           platform (default 2)\n"
	       "    -o keep=DURATION       remove ended runs older than this "
	       "(3600, 90m, 12h,\n"
	       "                           30d, 2w), never a job's latest "
	       "(default: keep all)\n"
	       "    -o log_level=LEVEL     error, warning, info or debug "
	       "(default info,\n"
	       "                           debug with -d)\n\n");
}
