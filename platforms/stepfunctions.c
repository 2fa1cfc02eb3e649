/*
 * AWS Step Functions through its JSON 1.0 protocol: every operation is a
 * POST of a JSON body to the endpoint's "/", named by the header
 * "X-Amz-Target: AWSStepFunctions.OPERATION" and signed with AWS
 * Signature Version 4 by libcurl (CURLOPT_AWS_SIGV4, service "states");
 * temporary credentials add their session token as X-Amz-Security-Token.
 * No signing code lives here.
 *
 * The remote id is the execution ARN. An execution is named after its run
 * (stepfunctions_wire.c: "RUN_KEY[.aN]@TAG", TAG a random mark kept in
 * STATE/instance, since run keys are only unique within one state dir
 * and a state machine may serve many users), which makes StartExecution
 * idempotent for STANDARD machines: sent again with the same name and
 * input while the execution runs, it answers the same execution, so it
 * is retried like any read; once that execution has ended the answer is
 * ExecutionAlreadyExists, and the ARN, derived from the machine's ARN and
 * the name, is what find asks DescribeExecution about. EXPRESS machines,
 * which have neither idempotent starts nor DescribeExecution, are refused
 * at deploy.
 *
 * Status comes in batches: per state machine, ListExecutions of its
 * RUNNING executions (paged by nextToken); a run not in that list has
 * ended or is not listed yet (the list is eventually consistent), so it
 * is asked for alone with DescribeExecution, which also gives the error
 * and cause of a failure. Output: "result" is the execution's output,
 * "log" its history, one line per event; the steps are the states of
 * that history.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "message.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "secret.h"
#include "stepfunctions.h"
#include "stepfunctions_wire.h"

#define SFN_TARGET	 "X-Amz-Target: AWSStepFunctions."
#define SFN_CONTENT_TYPE "Content-Type: application/x-amz-json-1.0"
#define SFN_LIST_PAGE	 100	/* executions per ListExecutions */
#define SFN_HISTORY_PAGE 1000	/* events per GetExecutionHistory */
#define SFN_HISTORY_MAX	 100000 /* events read at most */
#define SFN_CAUSE_MAX	 32768	/* StopExecution's cause */
#define SFN_UNSEEN	 1	/* rcs[i] before a run is found */
#define SFN_STOP_ERROR	 "jobfs.Cancelled"

struct sfn {
	struct platform base;
	struct http *http;
	char *endpoint; /* "https://states.REGION.amazonaws.com/" */
	char *region;
	char sigv4[80]; /* "aws:amz:REGION:states" */
	/*
	 * The credentials, under lock: a credentials file that changes (a
	 * refresh of temporary credentials) is read again before a call.
	 */
	pthread_mutex_t lock;
	char *userpwd;	    /* "KEY_ID:SECRET" (secret) */
	char *token_header; /* "X-Amz-Security-Token: ..." (secret), or NULL */
	char *profile;	    /* the "profile" field, or NULL */
	char creds_file[4096];	     /* where they came from, "" the env */
	struct timespec creds_mtime; /* of creds_file when it was read */
	int max_retries;
	char tag[SFN_WIRE_TAG_LEN + 1];
};

static const char *const sfn_fields[] = {
    "kind",    "region",  "endpoint", "profile", "timeout", "connect_timeout",
    "retries", "ca_file", NULL};

static struct sfn *sfn_from(struct platform *p)
{
	assert(p && p->ops == &stepfunctions_platform);
	return (struct sfn *)p;
}

/* ---- credentials ---- */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Makes @cr the credentials of the calls to come. */
static int creds_set(struct sfn *s, const struct sfn_wire_creds *cr,
		     const struct timespec *mtime)
{
	char *userpwd = NULL, *token = NULL;
	if (asprintf(&userpwd, "%s:%s", cr->key_id, cr->secret) < 0)
		userpwd = NULL;
	if (cr->token &&
	    asprintf(&token, "X-Amz-Security-Token: %s", cr->token) < 0)
		token = NULL;
	int rc = userpwd && (!cr->token || token) ? 0 : -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		char *old_userpwd = s->userpwd, *old_token = s->token_header;
		s->userpwd = userpwd;
		s->token_header = token;
		userpwd = old_userpwd;
		token = old_token;
		snprintf(s->creds_file, sizeof(s->creds_file), "%s", cr->file);
		s->creds_mtime = *mtime;
	}
	pthread_mutex_unlock(&s->lock);
	secret_free(userpwd);
	secret_free(token);
	return rc;
}

/* Reads the credentials file again when it changed since it was read. */
static void creds_refresh(struct sfn *s)
{
	char file[sizeof(s->creds_file)];
	struct timespec seen;
	pthread_mutex_lock(&s->lock);
	memcpy(file, s->creds_file, sizeof(file));
	seen = s->creds_mtime;
	pthread_mutex_unlock(&s->lock);
	struct stat st;
	if (!*file || stat(file, &st) < 0 || same_time(&st.st_mtim, &seen))
		return;
	struct sfn_wire_creds cr;
	char err[512];
	int rc = sfn_wire_creds_load(s->profile, &cr, err, sizeof(err));
	int set = rc ? rc : creds_set(s, &cr, &st.st_mtim);
	if (set == 0)
		log_info("platform \"%s\": AWS credentials read again from %s",
			 s->base.name, cr.source);
	else
		log_warn("platform \"%s\": keeping the AWS credentials: %s",
			 s->base.name, set == -ENOMEM ? "out of memory" : err);
	if (set) { /* not again before the file changes again */
		pthread_mutex_lock(&s->lock);
		s->creds_mtime = st.st_mtim;
		pthread_mutex_unlock(&s->lock);
	}
	if (rc == 0)
		sfn_wire_creds_release(&cr);
}

/* Copies of the credentials for one call (secrets: secret_free()). */
static int creds_borrow(struct sfn *s, char **userpwd_out, char **token_out)
{
	creds_refresh(s);
	pthread_mutex_lock(&s->lock);
	*userpwd_out = strdup(s->userpwd);
	*token_out = s->token_header ? strdup(s->token_header) : NULL;
	bool ok = *userpwd_out && (!s->token_header || *token_out);
	pthread_mutex_unlock(&s->lock);
	return ok ? 0 : -ENOMEM;
}

/* ---- requests ---- */

/* What a request got back besides its JSON: the exception's name. */
struct sfn_answer {
	json_t *doc;	/* the 2xx answer, or NULL */
	char error[96]; /* e.g. "ExecutionAlreadyExists", "" */
};

static int parse_answer(struct sfn *s, struct call *c,
			const struct http_response *r, const char *op,
			struct sfn_answer *a)
{
	int rc = http_check_status(s->http, c, r);
	if (rc < 0) {
		sfn_wire_error_name(r->body, r->body_len, a->error,
				    sizeof(a->error));
		return sfn_wire_error_errno(rc, r->body, r->body_len);
	}
	a->doc = json_loadb(r->body, r->body_len, 0, NULL);
	if (!json_is_object(a->doc)) {
		json_decref(a->doc);
		a->doc = NULL;
		return message_call_fail(
		    c, -EPROTO, "%s: the answer is not a JSON object", op);
	}
	return 0;
}

/*
 * One operation, signed. Every operation jobfs uses may be repeated (see
 * the top of this file), so http.c retries transport errors, 5xx, 429
 * and ThrottlingException, and this a 2xx answer that is not JSON.
 */
static int sfn_call(struct sfn *s, struct call *c, const char *op,
		    const json_t *body, struct sfn_answer *a)
{
	char target[96], *userpwd = NULL, *token = NULL;
	snprintf(target, sizeof(target), SFN_TARGET "%s", op);
	memset(a, 0, sizeof(*a));
	int rc = creds_borrow(s, &userpwd, &token);
	const char *headers[] = {SFN_CONTENT_TYPE, target, token, NULL};
	char *text = rc ? NULL : json_dumps(body, JSON_COMPACT);
	if (!text)
		rc = message_call_fail(c, -ENOMEM, "%s: out of memory", op);
	struct http_request req = {.method = "POST",
				   .url = s->endpoint,
				   .headers = headers,
				   .body = text,
				   .body_len = text ? strlen(text) : 0,
				   .userpwd = userpwd,
				   .aws_sigv4 = s->sigv4,
				   .idempotent = true};
	for (int tries = 0; rc == 0; tries++) {
		struct http_response r;
		rc = http_do(s->http, c, &req, &r);
		if (rc == 0) {
			rc = parse_answer(s, c, &r, op, a);
			http_response_release(&r);
		}
		if (rc != -EPROTO || tries >= s->max_retries)
			break;
		c->retries++;
		rc = 0;
	}
	free(text);
	secret_free(userpwd);
	secret_free(token);
	return rc;
}

/* An operation whose answer is not needed. */
static int sfn_call_only(struct sfn *s, struct call *c, const char *op,
			 const json_t *body)
{
	struct sfn_answer a = {0};
	int rc = body ? sfn_call(s, c, op, body, &a) : -ENOMEM;
	json_decref(a.doc);
	return rc;
}

static int describe(struct sfn *s, struct call *c, const char *arn,
		    json_t **doc_out)
{
	json_t *body = json_pack("{s:s}", "executionArn", arn);
	struct sfn_answer a = {0};
	int rc = body ? sfn_call(s, c, "DescribeExecution", body, &a) : -ENOMEM;
	json_decref(body);
	*doc_out = a.doc;
	return rc;
}

/* Every event of the execution @arn, oldest first, in *events_out. */
static int history(struct sfn *s, struct call *c, const char *arn,
		   json_t **events_out)
{
	json_t *events = json_array();
	char *token = NULL;
	int rc = events ? 0 : -ENOMEM;
	do {
		json_t *body = json_pack("{s:s, s:i, s:b}", "executionArn", arn,
					 "maxResults", SFN_HISTORY_PAGE,
					 "includeExecutionData", 0);
		if (body && token)
			json_object_set_new(body, "nextToken",
					    json_string(token));
		struct sfn_answer a = {0};
		if (rc == 0)
			rc = body ? sfn_call(s, c, "GetExecutionHistory", body,
					     &a)
				  : -ENOMEM;
		json_decref(body);
		free(token);
		token = NULL;
		const json_t *page = json_object_get(a.doc, "events");
		if (rc == 0 && !json_is_array(page))
			rc = message_call_fail(c, -EPROTO,
					       "history without \"events\"");
		if (rc == 0 && json_array_extend(events, (json_t *)page))
			rc = -ENOMEM;
		const char *next =
		    json_string_value(json_object_get(a.doc, "nextToken"));
		if (rc == 0 && next && *next && !(token = strdup(next)))
			rc = -ENOMEM;
		json_decref(a.doc);
	} while (rc == 0 && token && json_array_size(events) < SFN_HISTORY_MAX);
	free(token);
	if (rc)
		json_decref(events);
	else
		*events_out = events;
	return rc;
}

/* ---- open and close ---- */

static int check_fields(const json_t *fields, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)fields, key, value)
	{
		size_t i = 0;
		while (sfn_fields[i] && strcmp(sfn_fields[i], key))
			i++;
		if (sfn_fields[i])
			continue;
		int n =
		    snprintf(err, errlen,
			     "unknown field \"%s\"\nstepfunctions takes:", key);
		for (i = 0; sfn_fields[i] && n > 0 && (size_t)n < errlen; i++)
			n += snprintf(err + n, errlen - (size_t)n, " %s",
				      sfn_fields[i]);
		return -EINVAL;
	}
	return 0;
}

/* The string @key of @fields, or NULL; -EINVAL when not a string. */
static int string_field(const json_t *fields, const char *key, const char **out,
			char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, key);
	*out = json_string_value(v);
	if (v && (!*out || !**out))
		return message_fail(err, errlen, -EINVAL,
				    "field \"%s\": expected a non-empty string",
				    key);
	return 0;
}

static int open_endpoint(struct sfn *s, const json_t *fields, char *err,
			 size_t errlen)
{
	const char *endpoint, *region, *profile;
	int rc = string_field(fields, "endpoint", &endpoint, err, errlen);
	if (rc == 0)
		rc = string_field(fields, "region", &region, err, errlen);
	if (rc == 0)
		rc = string_field(fields, "profile", &profile, err, errlen);
	if (rc == 0)
		rc = sfn_wire_region(region, profile, &s->region, err, errlen);
	if (rc)
		return rc;
	if (endpoint && strncmp(endpoint, "http://", 7) != 0 &&
	    strncmp(endpoint, "https://", 8) != 0)
		return message_fail(err, errlen, -EINVAL,
				    "field \"endpoint\": expected an http(s) "
				    "URL");
	const char *domain = strncmp(s->region, "cn-", 3) == 0
				 ? "amazonaws.com.cn"
				 : "amazonaws.com";
	int n = endpoint ? asprintf(&s->endpoint, "%s", endpoint)
			 : asprintf(&s->endpoint, "https://states.%s.%s/",
				    s->region, domain);
	if (n < 0) {
		s->endpoint = NULL;
		return -ENOMEM;
	}
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:states", s->region);
	return 0;
}

static int open_creds(struct sfn *s, const struct platform_env *env, char *err,
		      size_t errlen)
{
	const char *profile;
	struct sfn_wire_creds cr;
	struct stat st = {0};
	int rc = string_field(env->fields, "profile", &profile, err, errlen);
	if (rc == 0 && profile && !(s->profile = strdup(profile)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = sfn_wire_creds_load(profile, &cr, err, errlen);
	if (rc)
		return rc == -ENOENT || rc == -EACCES ? -EINVAL : rc;
	if (*cr.file && stat(cr.file, &st) < 0)
		memset(&st, 0, sizeof(st));
	rc = creds_set(s, &cr, &st.st_mtim);
	log_info("platform \"%s\": AWS credentials from %s%s", env->name,
		 cr.source, cr.token ? " (temporary)" : "");
	sfn_wire_creds_release(&cr);
	return rc;
}

static void sfn_free(struct sfn *s)
{
	http_free(s->http);
	free(s->endpoint);
	free(s->region);
	secret_free(s->userpwd);
	secret_free(s->token_header);
	free(s->profile);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int sfn_open(const struct platform_env *env, struct platform **out,
		    char *err, size_t errlen)
{
	struct http_settings hs;
	int rc = check_fields(env->fields, err, errlen);
	if (rc == 0)
		rc = http_settings_from_json(env->fields, env->name, &hs, err,
					     errlen);
	if (rc)
		return rc;
	struct sfn *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &stepfunctions_platform;
	pthread_mutex_init(&s->lock, NULL);
	s->max_retries = hs.max_retries;
	hs.error_text = sfn_wire_error_text;
	hs.is_throttled = sfn_wire_is_throttled;
	rc = http_new(&hs, &s->http);
	if (rc)
		rc = message_fail(err, errlen, rc,
				  "cannot make an http client: %s",
				  strerror(-rc));
	if (rc == 0)
		rc = open_endpoint(s, env->fields, err, errlen);
	if (rc == 0)
		rc = open_creds(s, env, err, errlen);
	if (rc == 0)
		rc = sfn_wire_tag(env->state_dir, s->tag, err, errlen);
	if (rc) {
		sfn_free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static void sfn_close(struct platform *p)
{
	sfn_free(sfn_from(p));
}

/* ---- deploy and submit ---- */

static const char *machine_arn(const struct run_spec *run)
{
	return json_string_value(
	    json_object_get(run->conf, "state_machine_arn"));
}

/* The machine exists, in our region, and is STANDARD. */
static int check_machine(struct sfn *s, struct call *c, const char *arn,
			 const struct sfn_wire_arn *m)
{
	if (strcmp(m->region, s->region) != 0)
		return message_call_fail(
		    c, -EINVAL,
		    "state machine \"%s\" is in region %s, platform \"%s\" "
		    "in %s",
		    m->name, m->region, s->base.name, s->region);
	json_t *body = json_pack("{s:s}", "stateMachineArn", arn);
	struct sfn_answer a = {0};
	int rc =
	    body ? sfn_call(s, c, "DescribeStateMachine", body, &a) : -ENOMEM;
	json_decref(body);
	const char *type = json_string_value(json_object_get(a.doc, "type"));
	if (rc == -ENOENT) {
		char why[sizeof(c->err)];
		memcpy(why, c->err, sizeof(why));
		rc = message_call_fail(
		    c, -EINVAL, "no state machine \"%s\" (%s)", m->name, why);
	} else if (rc == 0 && type && strcmp(type, "STANDARD") != 0)
		rc = message_call_fail(
		    c, -EINVAL,
		    "state machine \"%s\" is %s: jobfs runs STANDARD ones "
		    "only (an %s execution can be neither described nor "
		    "found again after a crash)",
		    m->name, type, type);
	json_decref(a.doc);
	return rc;
}

static int sfn_validate(struct platform *p, struct call *c,
			const struct run_spec *run)
{
	struct sfn *s = sfn_from(p);
	struct sfn_wire_arn m;
	int rc = sfn_wire_validate(c, run);
	if (rc == 0)
		rc = sfn_wire_machine_arn(c, machine_arn(run), &m);
	if (rc == 0)
		rc = check_machine(s, c, machine_arn(run), &m);
	return rc;
}

/* The ARN the execution of @run has (or will have), in *arn_out. */
static int run_exec_arn(struct call *c, const struct sfn *s,
			const struct run_spec *run, char *name, char **arn_out)
{
	struct sfn_wire_arn m;
	int rc = sfn_wire_machine_arn(c, machine_arn(run), &m);
	if (rc)
		return rc;
	sfn_wire_exec_name(run->run_key, run->attempt, s->tag, name);
	*arn_out = sfn_wire_exec_arn(&m, name);
	return *arn_out ? 0 : -ENOMEM;
}

static int sfn_find(struct platform *p, struct call *c,
		    const struct run_spec *run, char **remote_id_out)
{
	struct sfn *s = sfn_from(p);
	char name[SFN_WIRE_NAME_MAX + 1], *arn = NULL;
	json_t *doc = NULL;
	int rc = run_exec_arn(c, s, run, name, &arn);
	if (rc == 0)
		rc = describe(s, c, arn, &doc);
	json_decref(doc);
	if (rc == 0)
		*remote_id_out = arn;
	else
		free(arn);
	return rc;
}

static int start(struct sfn *s, struct call *c, const struct run_spec *run,
		 const char *name, char **arn_out)
{
	char *input = NULL;
	int rc = sfn_wire_input(c, run, &input);
	if (rc)
		return rc;
	json_t *body =
	    json_pack("{s:s, s:s, s:s}", "stateMachineArn", machine_arn(run),
		      "name", name, "input", input);
	free(input);
	struct sfn_answer a = {0};
	rc = body ? sfn_call(s, c, "StartExecution", body, &a) : -ENOMEM;
	json_decref(body);
	const char *arn =
	    json_string_value(json_object_get(a.doc, "executionArn"));
	if (rc == 0 && !arn)
		rc = message_call_fail(c, -EPROTO,
				       "StartExecution without executionArn");
	if (rc == 0 && !(*arn_out = strdup(arn)))
		rc = -ENOMEM;
	if (rc && strcmp(a.error, "ExecutionAlreadyExists") == 0)
		rc = -EEXIST;
	json_decref(a.doc);
	return rc;
}

static int sfn_submit(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct sfn *s = sfn_from(p);
	char name[SFN_WIRE_NAME_MAX + 1], *arn = NULL;
	int rc = sfn_wire_validate(c, run);
	if (rc == 0)
		rc = run_exec_arn(c, s, run, name, &arn);
	free(arn);
	if (rc == 0)
		rc = start(s, c, run, name, remote_id_out);
	if (rc == -EEXIST) {
		/* ours, started by a try whose answer was lost: it ended */
		log_info("platform \"%s\": execution \"%s\" exists already",
			 p->name, name);
		rc = sfn_find(p, c, run, remote_id_out);
	}
	if (rc == 0)
		log_info("platform \"%s\": started execution \"%s\"", p->name,
			 name);
	return rc;
}

/* ---- status ---- */

static int sfn_status(struct platform *p, struct call *c, const char *remote_id,
		      struct run_status *out)
{
	struct sfn *s = sfn_from(p);
	json_t *doc = NULL;
	int rc = describe(s, c, remote_id, &doc);
	if (rc == 0)
		rc = sfn_wire_status(c, doc, out);
	json_decref(doc);
	return rc;
}

/* The runs of one status_many call. */
struct sfn_batch {
	const char *const *ids;
	char **machines; /* each run's state machine ARN, or NULL */
	struct run_status *out;
	int *rcs;
	size_t n;
};

/* Reads the listed @exec into the unseen runs of @machine it is. */
static void batch_seen(struct sfn_batch *b, struct call *c, const char *machine,
		       const json_t *exec)
{
	const char *arn =
	    json_string_value(json_object_get(exec, "executionArn"));
	for (size_t i = 0; arn && i < b->n; i++) {
		if (b->rcs[i] != SFN_UNSEEN || !b->machines[i] ||
		    strcmp(b->machines[i], machine) || strcmp(b->ids[i], arn))
			continue;
		b->rcs[i] = sfn_wire_status(c, exec, &b->out[i]);
	}
}

static size_t batch_unseen(const struct sfn_batch *b, const char *machine)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++)
		n += b->rcs[i] == SFN_UNSEEN && b->machines[i] &&
		     strcmp(b->machines[i], machine) == 0;
	return n;
}

/* One page of the machine's running executions; *token_out the next. */
static int list_page(struct sfn *s, struct call *c, struct sfn_batch *b,
		     const char *machine, char **token_out)
{
	json_t *body =
	    json_pack("{s:s, s:s, s:i}", "stateMachineArn", machine,
		      "statusFilter", "RUNNING", "maxResults", SFN_LIST_PAGE);
	if (body && *token_out)
		json_object_set_new(body, "nextToken", json_string(*token_out));
	free(*token_out);
	*token_out = NULL;
	struct sfn_answer a = {0};
	int rc = body ? sfn_call(s, c, "ListExecutions", body, &a) : -ENOMEM;
	json_decref(body);
	const json_t *execs = json_object_get(a.doc, "executions");
	if (rc == 0 && !json_is_array(execs))
		rc = message_call_fail(c, -EPROTO,
				       "ListExecutions without \"executions\"");
	size_t i;
	json_t *exec;
	json_array_foreach(execs, i, exec)
	{
		batch_seen(b, c, machine, exec);
	}
	const char *next =
	    json_string_value(json_object_get(a.doc, "nextToken"));
	if (rc == 0 && next && *next && !(*token_out = strdup(next)))
		rc = -ENOMEM;
	json_decref(a.doc);
	return rc;
}

/*
 * Pages through the machine's running executions while some of its runs
 * are unseen and paging is cheaper than asking for each of them.
 */
static int list_machine(struct sfn *s, struct call *c, struct sfn_batch *b,
			const char *machine)
{
	char *token = NULL;
	int rc = 0;
	for (size_t pages = 0;; pages++) {
		size_t unseen = batch_unseen(b, machine);
		if (unseen == 0 || (pages > 0 && (!token || pages >= unseen)))
			break;
		rc = list_page(s, c, b, machine, &token);
		if (rc)
			break;
	}
	free(token);
	return rc;
}

static int sfn_status_many(struct platform *p, struct call *c,
			   const char *const *remote_ids,
			   struct run_status *statuses, int *rcs, size_t n)
{
	struct sfn *s = sfn_from(p);
	struct sfn_batch b = {remote_ids, calloc(n + 1, sizeof(char *)),
			      statuses, rcs, n};
	if (!b.machines)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		b.machines[i] = sfn_wire_machine_of(remote_ids[i]);
		rcs[i] = b.machines[i] ? SFN_UNSEEN : -ENOENT;
	}
	int rc = 0;
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] != SFN_UNSEEN || batch_unseen(&b, b.machines[i]) < 2)
			continue;
		int lrc = list_machine(s, c, &b, b.machines[i]);
		for (size_t j = i; lrc && j < n; j++)
			if (rcs[j] == SFN_UNSEEN &&
			    strcmp(b.machines[j], b.machines[i]) == 0) {
				rcs[j] = lrc; /* the machine cannot be asked */
				failed++;
			}
		if (lrc && !rc)
			rc = lrc;
	}
	/* not running (or not listed yet): each alone, with its details */
	for (size_t i = 0; i < n; i++)
		if (rcs[i] == SFN_UNSEEN)
			rcs[i] = sfn_status(p, c, remote_ids[i], &statuses[i]);
	for (size_t i = 0; i < n; i++)
		free(b.machines[i]);
	free(b.machines);
	return failed == n ? rc : 0;
}

/* ---- output, cancel, steps, health ---- */

static int write_output(const char *dir, const char *name, const char *text,
			size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return fsutil_write_atomic(path, text, len, 0644);
}

/* "result": the output of an execution that ended, with a newline. */
static int write_result(const char *dir, const json_t *exec)
{
	const char *output = json_string_value(json_object_get(exec, "output"));
	char *text = NULL;
	size_t n = output ? strlen(output) : 0;
	bool nl = n > 0 && output[n - 1] != '\n';
	if (asprintf(&text, "%s%s", output ? output : "", nl ? "\n" : "") < 0)
		return -ENOMEM;
	int rc = write_output(dir, "result", text, strlen(text));
	free(text);
	return rc;
}

static int sfn_fetch(struct platform *p, struct call *c, const char *remote_id,
		     const char *output_dir)
{
	struct sfn *s = sfn_from(p);
	json_t *exec = NULL, *events = NULL;
	struct run_status st = {0};
	int rc = describe(s, c, remote_id, &exec);
	if (rc == 0)
		rc = sfn_wire_status(c, exec, &st);
	if (rc == 0)
		rc = history(s, c, remote_id, &events);
	char *text = NULL;
	size_t len = 0;
	FILE *f = rc == 0 ? open_memstream(&text, &len) : NULL;
	if (rc == 0 && !f)
		rc = -ENOMEM;
	if (f) {
		sfn_wire_log(events, f);
		if (fclose(f) != 0)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = write_output(output_dir, "log", text, len);
	if (rc == 0 && state_is_terminal(st.state))
		rc = write_result(output_dir, exec);
	if (rc < 0 && c->err[0] == '\0')
		message_call_fail(c, rc,
				  "cannot write the output of \"%s\": %s",
				  remote_id, strerror(-rc));
	free(text);
	free(st.error);
	json_decref(exec);
	json_decref(events);
	return rc;
}

/*
 * StopExecution of an ended execution changes nothing, so the state is
 * checked first: a run that ended is not cancelled (EINVAL).
 */
static int sfn_cancel(struct platform *p, struct call *c, const char *remote_id,
		      const char *reason)
{
	struct sfn *s = sfn_from(p);
	struct run_status st = {0};
	int rc = sfn_status(p, c, remote_id, &st);
	free(st.error);
	if (rc == 0 && state_is_terminal(st.state))
		rc = message_call_fail(c, -EINVAL, "run already ended");
	if (rc)
		return rc;
	const char *cause = reason && *reason ? reason : "cancelled";
	json_t *body =
	    json_pack("{s:s, s:s, s:s#}", "executionArn", remote_id, "error",
		      SFN_STOP_ERROR, "cause", cause,
		      (int)(strlen(cause) < SFN_CAUSE_MAX ? strlen(cause)
							  : SFN_CAUSE_MAX));
	rc = sfn_call_only(s, c, "StopExecution", body);
	json_decref(body);
	if (rc == 0)
		log_info("platform \"%s\": stopped execution \"%s\"", p->name,
			 remote_id);
	return rc;
}

static int sfn_steps(struct platform *p, struct call *c, const char *remote_id,
		     json_t **steps_out)
{
	json_t *events = NULL;
	int rc = history(sfn_from(p), c, remote_id, &events);
	if (rc == 0)
		rc = sfn_wire_steps(events, steps_out);
	json_decref(events);
	return rc;
}

/* The smallest list: the endpoint answers and takes our signature. */
static int sfn_health(struct platform *p, struct call *c)
{
	json_t *body = json_pack("{s:i}", "maxResults", 1);
	int rc = sfn_call_only(sfn_from(p), c, "ListStateMachines", body);
	json_decref(body);
	return rc;
}

const struct platform_ops stepfunctions_platform = {
    .kind = "stepfunctions",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_LOG,
    .open = sfn_open,
    .close = sfn_close,
    .validate = sfn_validate,
    .submit = sfn_submit,
    .find = sfn_find,
    .status = sfn_status,
    .status_many = sfn_status_many,
    .fetch = sfn_fetch,
    .cancel = sfn_cancel,
    .steps = sfn_steps,
    .health = sfn_health,
};
