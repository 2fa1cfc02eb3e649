/*
 * The Spark standalone platform's driver lookup: see spark_find.h.
 *
 * Cost: one master UI request (the caller's) per ask and, only when the
 * logs can decide, at most SPARK_FIND_MAX_READS stderr heads of drivers
 * of the run's main class that started within the last
 * SPARK_FIND_WINDOW_S seconds, those closest to our app's start first
 * (usually the first one read is ours).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http.h"
#include "message.h"
#include "spark_find.h"

#define SPARK_FIND_KEYS	     64	    /* keys remembered at once */
#define SPARK_FIND_MAX_READS 50	    /* stderr heads per ask */
#define SPARK_FIND_WINDOW_S  3600.0 /* drivers older are not it */

/* When each key was first asked for: the start of its grace period. */
struct asked {
	char *key;
	double first; /* clock_mono() */
};

struct spark_finder {
	pthread_mutex_t lock;
	struct asked asked[SPARK_FIND_KEYS];
};

int spark_finder_new(struct spark_finder **out)
{
	struct spark_finder *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	*out = f;
	return 0;
}

void spark_finder_free(struct spark_finder *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < SPARK_FIND_KEYS; i++)
		free(f->asked[i].key);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Whether slot @i is a better one to take than @best (free, else older). */
static bool better_slot(const struct spark_finder *f, size_t i, size_t best)
{
	const struct asked *a = &f->asked[i], *b = &f->asked[best];
	if (best == SPARK_FIND_KEYS)
		return true;
	return b->key && (!a->key || a->first < b->first);
}

/* Seconds since @key was first asked for (0 now: remembered from now). */
static double asked_for(struct spark_finder *f, const char *key)
{
	double now = clock_mono();
	size_t slot = SPARK_FIND_KEYS;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < SPARK_FIND_KEYS; i++) {
		struct asked *a = &f->asked[i];
		if (a->key && strcmp(a->key, key) == 0) {
			double age = now - a->first;
			pthread_mutex_unlock(&f->lock);
			return age;
		}
		if (better_slot(f, i, slot))
			slot = i;
	}
	char *copy = strdup(key);
	if (copy) {
		free(f->asked[slot].key);
		f->asked[slot] = (struct asked){copy, now};
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* @key is decided: its grace period is over. */
static void forget(struct spark_finder *f, const char *key)
{
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < SPARK_FIND_KEYS; i++) {
		struct asked *a = &f->asked[i];
		if (a->key && strcmp(a->key, key) == 0) {
			free(a->key);
			*a = (struct asked){0};
		}
	}
	pthread_mutex_unlock(&f->lock);
}

static const char *str_of(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(o, field));
}

/* A driver's or app's start in epoch seconds ("starttime", ms); 0: unknown */
static double start_of(const json_t *d)
{
	const json_t *v = json_object_get(d, "starttime");
	double ms = json_is_number(v) ? json_number_value(v) : 0;
	if (json_is_string(v))
		ms = strtod(json_string_value(v), NULL);
	return ms / 1000.0;
}

/* A driver that may be ours, and how far its start is from the anchor. */
struct candidate {
	const json_t *driver;
	double distance;
};

static int closest_first(const void *a, const void *b)
{
	double x = ((const struct candidate *)a)->distance;
	double y = ((const struct candidate *)b)->distance;
	return (x > y) - (x < y);
}

/*
 * The drivers of @main_class that may be ours, those that started closest
 * to @anchor first (the start of our app, else now: the newest first);
 * the caller frees the array.
 */
static size_t candidates(const json_t *ui, const char *main_class,
			 double anchor, struct candidate **out)
{
	static const char *const lists[] = {"activedrivers",
					    "completeddrivers"};
	size_t cap = 0, n = 0;
	for (size_t k = 0; k < 2; k++)
		cap += json_array_size(json_object_get(ui, lists[k]));
	*out = calloc(cap + 1, sizeof(**out));
	double since = clock_wall() - SPARK_FIND_WINDOW_S;
	const json_t *d;
	size_t i;
	for (size_t k = 0; *out && k < 2; k++) {
		json_array_foreach(json_object_get(ui, lists[k]), i, d)
		{
			const char *mc = str_of(d, "mainclass");
			double start = start_of(d);
			if ((mc && strcmp(mc, main_class) != 0) ||
			    (start != 0 && start < since))
				continue;
			double dist =
			    start > anchor ? start - anchor : anchor - start;
			(*out)[n++] = (struct candidate){d, dist};
		}
	}
	if (*out)
		qsort(*out, n, sizeof(**out), closest_first);
	return n;
}

/* The web UI of the worker @id from the listing, or NULL. */
static const char *worker_base(const json_t *ui, const char *id)
{
	const json_t *w;
	size_t i;
	json_array_foreach(json_object_get(ui, "workers"), i, w)
	{
		const char *wid = str_of(w, "id");
		if (wid && id && strcmp(wid, id) == 0)
			return str_of(w, "webuiaddress");
	}
	return NULL;
}

/* 1: driver @d's launch command names @needle; 0: not (yet); or -errno. */
static int names_key(struct call *c, const json_t *ui, const json_t *d,
		     const char *needle, const struct spark_find_io *io)
{
	const char *base = worker_base(ui, str_of(d, "worker"));
	const char *id = str_of(d, "id");
	if (!base || !id) /* waiting for a worker: no log yet */
		return 0;
	char *text = NULL, *eid = http_escape(id), url[2048];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int n = snprintf(url, sizeof(url), "%s", base);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	int rc = f && eid ? io->stderr_head(io->ctx, c, url, eid, f) : -ENOMEM;
	if (f && fclose(f) && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = text && strstr(text, needle) ? 1 : 0;
	free(text);
	free(eid);
	return rc;
}

/* Whether an application of name @key is listed; *start_out its start. */
static bool app_listed(const json_t *ui, const char *key, double *start_out)
{
	static const char *const lists[] = {"activeapps", "completedapps"};
	const json_t *a;
	size_t i;
	for (size_t k = 0; k < 2; k++) {
		json_array_foreach(json_object_get(ui, lists[k]), i, a)
		{
			const char *name = str_of(a, "name");
			if (name && strcmp(name, key) == 0) {
				*start_out = start_of(a);
				return true;
			}
		}
	}
	return false;
}

/* The driver whose stderr head names @key: 1 with *id_out, 0, or -errno. */
static int scan(struct call *c, const json_t *ui, const char *key,
		const char *main_class, double anchor,
		const struct spark_find_io *io, char **id_out)
{
	struct candidate *ds = NULL;
	size_t n = candidates(ui, main_class, anchor, &ds);
	char *needle = NULL;
	int rc = ds && asprintf(&needle, "\"-Dspark.app.name=%s\"", key) >= 0
		     ? 0
		     : -ENOMEM;
	if (rc)
		needle = NULL;
	for (size_t i = 0; rc == 0 && i < n && i < SPARK_FIND_MAX_READS; i++) {
		rc = names_key(c, ui, ds[i].driver, needle, io);
		if (rc == 1) {
			*id_out = strdup(str_of(ds[i].driver, "id"));
			rc = *id_out ? 1 : -ENOMEM;
		}
	}
	free(needle);
	free(ds);
	return rc;
}

/*
 * Logs are read only when they can decide: once our app is listed (its
 * driver then started just before it), or when the grace period is over
 * (a last look before -ENOENT, for a driver that failed before its app).
 */
int spark_finder_find(struct spark_finder *f, struct call *c, const json_t *ui,
		      const char *run_key, const char *main_class,
		      const struct spark_find_io *io, char **id_out)
{
	double age = asked_for(f, run_key), anchor = clock_wall();
	bool listed = app_listed(ui, run_key, &anchor);
	if (!listed && age < SPARK_FIND_GRACE_S)
		return message_call_fail(
		    c, -EINPROGRESS,
		    "no app \"%s\" listed yet (asking for %.0f s more)",
		    run_key, SPARK_FIND_GRACE_S - age);
	int rc = scan(c, ui, run_key, main_class, anchor, io, id_out);
	if (rc < 0)
		return rc; /* a log that could not be read may be the one */
	if (rc == 1) {
		forget(f, run_key);
		return 0;
	}
	if (listed)
		return message_call_fail(c, -EINPROGRESS,
					 "app \"%s\" is listed, its driver not "
					 "found yet",
					 run_key);
	forget(f, run_key);
	return message_call_fail(c, -ENOENT, "no driver of \"%s\" after %.0f s",
				 run_key, age);
}
