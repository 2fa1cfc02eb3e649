/*
 * The fixture of the job core's unit tests (job_harness.h): a temp state
 * dir, a real SQLite store, the scripted platform and the core, opened and
 * closed as main.c does, and the helpers the tests read results with.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "job_harness.h"
#include "store.h"

static char root[64];
static char state_dir[128];
static char new_dir[160];
static char db_path[160];

struct job_fixture fx;

void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/check_job.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

void remove_root(void)
{
	nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void setup(void)
{
	static const char *const subdirs[] = {"new", "jobs", "runs", "tmp",
					      "platforms"};
	memset(&fx, 0, sizeof(fx));
	snprintf(state_dir, sizeof(state_dir), "%s/test.XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char dir[200];
		snprintf(dir, sizeof(dir), "%s/%s", state_dir, subdirs[i]);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
	}
	snprintf(new_dir, sizeof(new_dir), "%s/new", state_dir);
	snprintf(db_path, sizeof(db_path), "%s/jobfs.db", state_dir);
}

static void on_changed(void *ctx, const char *job, int64_t run_id,
		       enum run_state state)
{
	__atomic_add_fetch(&fx.changes, 1, __ATOMIC_SEQ_CST);
}

static void on_nothing(void *ctx)
{
}

static void on_kick_in(void *ctx, double seconds)
{
}

static void on_platform_changed(void *ctx, const char *platform,
				const char *remote_id)
{
	if (fx.jc)
		job_platform_changed(fx.jc, platform, remote_id);
}

/* Opens store, platform "fake" of @kind with config @fields, and the core. */
void open_core_with(const char *kind, double ttl, const char *fields)
{
	ck_assert_int_eq(store_open(db_path, &fx.store), 0);
	struct job_settings settings = {.state_dir = state_dir,
					.default_platform = "fake",
					.bundle_limit = 1 << 20,
					.ttl = ttl};
	struct job_listener listener = {
	    .changed = on_changed, .kick = on_nothing, .kick_in = on_kick_in};
	ck_assert_int_eq(job_core_new(fx.store, &settings, &listener, &fx.jc),
			 0);
	fx.pc = (struct platform_config){.name = "fake",
					 .kind = (char *)kind,
					 .fields = json_loads(fields, 0, NULL)};
	ck_assert_ptr_nonnull(fx.pc.fields);
	json_object_set_new(fx.pc.fields, "kind", json_string(kind));
	if (!json_object_get(fx.pc.fields, "timeout"))
		json_object_set_new(fx.pc.fields, "timeout", json_real(5.0));
	fx.cfg = (struct config){.default_platform = "fake",
				 .bundle_limit = 1 << 20,
				 .platforms = &fx.pc,
				 .nplatforms = 1};
	struct platform_listener pl = {.changed = on_platform_changed};
	char err[256] = "";
	int rc =
	    platforms_open_kinds(&fx.cfg, state_dir, &pl, fake_platform_kinds,
				 2, &fx.ps, err, sizeof(err));
	ck_assert_msg(rc == 0, "platforms_open_kinds: %s", err);
	fx.p = platforms_get(fx.ps, "fake");
	fx.fp = fake_from(fx.p);
	ck_assert_ptr_nonnull(fx.fp);
	ck_assert_int_eq(job_core_start(fx.jc, fx.ps), 0);
}

void open_core(const char *kind, double ttl)
{
	open_core_with(kind, ttl, "{}");
}

/* Closes everything, as a daemon's exit (or death) would leave it. */
void close_core(void)
{
	struct jobcore *jc = fx.jc;
	fx.jc = NULL;
	job_core_free(jc);
	platforms_close(fx.ps);
	store_close(fx.store);
	json_decref(fx.pc.fields);
	fx.ps = NULL;
	fx.fp = NULL;
	fx.p = NULL;
	fx.store = NULL;
}

void teardown(void)
{
	if (fx.jc)
		close_core();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Stages new/NAME.sh and deploys NAME with @config. */
void deploy(const char *name, const char *config)
{
	char path[256], err[512] = "";
	snprintf(path, sizeof(path), "%s/%s.sh", new_dir, name);
	write_file(path, "echo hello\n");
	int rc = job_deploy(fx.jc, new_dir, name, config, strlen(config), err,
			    sizeof(err));
	ck_assert_msg(rc == 0, "deploy \"%s\": %s", name, err);
}

/* The latest run of @job as the core shows it (no refresh). */
struct run_view view(const char *job)
{
	struct run_view v;
	ck_assert_int_eq(job_run_view(fx.jc, job, 0, false, &v), 0);
	return v;
}

enum run_state state_of(const char *job)
{
	struct run_view v = view(job);
	enum run_state s = v.state;
	job_run_view_release(&v);
	return s;
}

char *events(const char *job)
{
	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(job_events_text(fx.jc, job, 0, &text, &len), 0);
	return text;
}

int count_of(const char *haystack, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(haystack, needle); p;
	     p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The last run in the store, read through a connection of its own. */
static int grab_run(void *ctx, const struct store_run *r)
{
	struct store_run *out = ctx;
	store_run_release(out);
	*out = *r;
	out->platform = r->platform ? strdup(r->platform) : NULL;
	out->remote_id = r->remote_id ? strdup(r->remote_id) : NULL;
	out->platform_state =
	    r->platform_state ? strdup(r->platform_state) : NULL;
	out->overrides = r->overrides ? strdup(r->overrides) : NULL;
	out->error = r->error ? strdup(r->error) : NULL;
	return 0;
}

struct store_run stored_run(void)
{
	struct store *s;
	struct store_run run = {0};
	ck_assert_int_eq(store_open(db_path, &s), 0);
	ck_assert_int_eq(store_load(s, NULL, grab_run, &run), 0);
	store_close(s);
	ck_assert_int_ne(run.id, 0);
	return run;
}

/*
 * What a daemon killed in the middle of a submit leaves: the in-flight
 * mark committed, no answer. Written with the core closed.
 */
void mark_submit_in_flight(void)
{
	struct store *s;
	struct store_run run = stored_run();
	run.submit_started_at = clock_wall();
	ck_assert_int_eq(store_open(db_path, &s), 0);
	ck_assert_int_eq(store_run_update(s, &run), 0);
	store_close(s);
	store_run_release(&run);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("(missing)");
	char buf[256];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strdup(buf);
}

char *output(const char *job, const char *what)
{
	char *path = NULL;
	ck_assert_int_eq(job_output_path(fx.jc, job, 0, what, &path), 0);
	char *text = read_text(path);
	free(path);
	return text;
}

char *health(void)
{
	char *text = NULL;
	ck_assert_int_eq(platform_render_health(fx.p, &text), 0);
	return text;
}

void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Deploys @name and brings its run to RUNNING as "r1". */
void running(const char *name)
{
	deploy(name, "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_state(name, RUN_RUNNING);
}

void add_case(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	for (size_t i = 0; tests[i]; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
}
