/*
 * AWS Step Functions without the network (see stepfunctions_wire.h).
 *
 * Credentials follow the AWS CLI's order, so that what works for `aws
 * stepfunctions ...` in a shell works for jobfs: the environment first,
 * then the shared credentials file. The files are INI: "[NAME]" sections
 * (the config file says "[profile NAME]", but "[default]"), "key = value"
 * lines, '#' and ';' comments. The credentials file is read like any
 * secret file (secret.c: refused when group or others may read it); its
 * contents are wiped once parsed.
 *
 * Steps come from the history: every "...StateEntered" event opens a step
 * named after its state ("name#2" for the second time that state is
 * entered), the matching "...StateExited" closes it; a task or Lambda
 * failure inside a state marks it, and the execution's end closes the
 * steps still open (a Fail state, a state cut short by a stop).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "message.h"
#include "clock.h"
#include "fsutil.h"
#include "secret.h"
#include "stepfunctions_wire.h"

#define SFN_MESSAGE_MAX 400 /* characters of "error: cause" */
#define SFN_COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- INI files ---- */

static char *trim(char *s)
{
	s += strspn(s, " \t\r");
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r", s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Whether the section header @name (inside the brackets) is @profile's. */
static bool is_section(char *name, const char *profile, bool config)
{
	if (strcmp(name, profile) == 0)
		return !config || strcmp(profile, "default") == 0;
	if (config && strncmp(name, "profile", 7) == 0 &&
	    (name[7] == ' ' || name[7] == '\t'))
		return strcmp(trim(name + 8), profile) == 0;
	return false;
}

/*
 * The value of @key in section @profile of the INI text @text (modified
 * in place; the result points into it), or NULL.
 */
static const char *ini_get(char *text, const char *profile, bool config,
			   const char *key)
{
	bool in = false;
	const char *found = NULL;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *l = trim(line);
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (end)
				*end = '\0';
			in = end && is_section(trim(l + 1), profile, config);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!in || *l == '#' || *l == ';' || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(l), key) == 0 && !found)
			found = trim(eq + 1);
	}
	return found;
}

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	if (home && *home)
		return home;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

/* @env's path, else ~/.aws/@name, in @buf. */
static const char *aws_file(const char *env, const char *name, char *buf,
			    size_t len)
{
	const char *path = getenv(env);
	if (path && *path)
		return path;
	snprintf(buf, len, "%s/.aws/%s", home_dir(), name);
	return buf;
}

static const char *profile_name(const char *profile)
{
	const char *env = getenv("AWS_PROFILE");
	if (profile)
		return profile;
	return env && *env ? env : "default";
}

/* ---- credentials ---- */

void sfn_wire_creds_release(struct sfn_wire_creds *creds)
{
	secret_free(creds->key_id);
	secret_free(creds->secret);
	secret_free(creds->token);
	creds->key_id = creds->secret = creds->token = NULL;
}

static int dup_secret(const char *value, char **out)
{
	*out = value && *value ? strdup(value) : NULL;
	return value && *value && !*out ? -ENOMEM : 0;
}

static int creds_env(struct sfn_wire_creds *out, char *err, size_t errlen)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	bool has_id = id && *id, has_secret = secret && *secret;
	if (!has_id && !has_secret)
		return -ENOENT;
	if (!has_id || !has_secret)
		return message_fail(
		    err, errlen, -EINVAL, "%s is set but %s is not",
		    has_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    has_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	int rc = dup_secret(id, &out->key_id);
	if (rc == 0)
		rc = dup_secret(secret, &out->secret);
	if (rc == 0)
		rc = dup_secret(getenv("AWS_SESSION_TOKEN"), &out->token);
	snprintf(out->source, sizeof(out->source), "the environment");
	return rc;
}

/* Takes the profile's keys from the parsed file @text. */
static int creds_parse(char *text, const char *profile, const char *path,
		       struct sfn_wire_creds *out, char *err, size_t errlen)
{
	char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	const char *id = ini_get(copy, profile, false, "aws_access_key_id");
	int rc = dup_secret(id, &out->key_id);
	memcpy(copy, text, strlen(text) + 1);
	const char *sec =
	    ini_get(copy, profile, false, "aws_secret_access_key");
	if (rc == 0)
		rc = dup_secret(sec, &out->secret);
	memcpy(copy, text, strlen(text) + 1);
	const char *tok = ini_get(copy, profile, false, "aws_session_token");
	if (rc == 0)
		rc = dup_secret(tok, &out->token);
	secret_free(copy);
	if (rc == 0 && (!out->key_id || !out->secret))
		rc = message_fail(err, errlen, -ENOENT,
				  "no aws_access_key_id and "
				  "aws_secret_access_key for profile \"%s\" "
				  "in \"%s\"",
				  profile, path);
	return rc;
}

static int creds_file(const char *profile, struct sfn_wire_creds *out,
		      char *err, size_t errlen)
{
	char buf[PATH_MAX], why[300];
	const char *path = aws_file("AWS_SHARED_CREDENTIALS_FILE",
				    "credentials", buf, sizeof(buf));
	char *text = NULL;
	int rc = secret_read_file(path, &text, why, sizeof(why));
	if (rc == -ENOENT)
		return message_fail(err, errlen, -ENOENT,
				    "no AWS credentials: neither "
				    "AWS_ACCESS_KEY_ID nor \"%s\"",
				    path);
	if (rc)
		return message_fail(err, errlen, rc == -ENOMEM ? rc : -EACCES,
				    "AWS credentials: %s", why);
	rc = creds_parse(text, profile, path, out, err, errlen);
	secret_free(text);
	snprintf(out->source, sizeof(out->source), "profile \"%s\" of \"%s\"",
		 profile, path);
	snprintf(out->file, sizeof(out->file), "%s", path);
	return rc;
}

int sfn_wire_creds_load(const char *profile, struct sfn_wire_creds *out,
			char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* a profile named in the config beats the environment, as --profile
	 * does for the AWS CLI; AWS_PROFILE does not */
	int rc = profile ? -ENOENT : creds_env(out, err, errlen);
	if (rc == -ENOENT)
		rc = creds_file(profile_name(profile), out, err, errlen);
	if (rc)
		sfn_wire_creds_release(out);
	return rc;
}

/* ---- region ---- */

static bool is_region(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 32 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz"
			 "0123456789-") == n;
}

static int region_from_config(const char *profile, char **region_out)
{
	char buf[PATH_MAX], *text = NULL;
	size_t len;
	const char *path =
	    aws_file("AWS_CONFIG_FILE", "config", buf, sizeof(buf));
	int rc = fsutil_read_all(path, 1 << 20, &text, &len);
	if (rc)
		return rc;
	const char *region =
	    ini_get(text, profile_name(profile), true, "region");
	*region_out = region && *region ? strdup(region) : NULL;
	rc = region && *region ? (*region_out ? 0 : -ENOMEM) : -ENOENT;
	free(text);
	return rc;
}

int sfn_wire_region(const char *configured, const char *profile,
		    char **region_out, char *err, size_t errlen)
{
	const char *names[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
	const char *region = configured;
	for (size_t i = 0; !region && i < SFN_COUNT(names); i++)
		if (getenv(names[i]) && *getenv(names[i]))
			region = getenv(names[i]);
	*region_out = region ? strdup(region) : NULL;
	int rc = region ? (*region_out ? 0 : -ENOMEM)
			: region_from_config(profile, region_out);
	if (rc == -ENOENT)
		return message_fail(err, errlen, -EINVAL,
				    "no AWS region: set \"region\", AWS_REGION "
				    "or the profile's region");
	if (rc == 0 && !is_region(*region_out)) {
		char shown[40];
		message_printable(*region_out, shown, sizeof(shown));
		free(*region_out);
		*region_out = NULL;
		return message_fail(err, errlen, -EINVAL,
				    "invalid AWS region \"%s\"", shown);
	}
	return rc;
}

/* ---- names and ARNs ---- */

/* Splits @s at ':' into at most @max parts of @copy; the count. */
static size_t split_arn(const char *s, char *copy, size_t len, char **parts,
			size_t max)
{
	snprintf(copy, len, "%s", s);
	size_t n = 0;
	for (char *p = copy; p && n < max; n++) {
		parts[n] = p;
		p = strchr(p, ':');
		if (p)
			*p++ = '\0';
	}
	return n;
}

static bool is_name(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= SFN_WIRE_NAME_MAX &&
	       strcspn(s, " \t\n<>{}[]?*\"#%\\^|~`$&,;:/") == n;
}

int sfn_wire_machine_arn(struct call *c, const char *arn,
			 struct sfn_wire_arn *out)
{
	char copy[512], *p[9], shown[120];
	message_printable(arn, shown, sizeof(shown));
	size_t n = strlen(arn) < sizeof(copy)
		       ? split_arn(arn, copy, sizeof(copy), p, 9)
		       : 0;
	if ((n != 7 && n != 8) || strcmp(p[0], "arn") ||
	    strcmp(p[2], "states") || strcmp(p[5], "stateMachine") ||
	    !is_region(p[3]) || !*p[4] || strlen(p[4]) >= 32 ||
	    strlen(p[1]) >= 32 || !*p[1] || !is_name(p[6]) ||
	    strspn(p[4], "0123456789") != strlen(p[4]))
		return message_call_fail(
		    c, -EINVAL,
		    "conf \"state_machine_arn\": \"%s\" is not a state "
		    "machine ARN (arn:aws:states:REGION:ACCOUNT:"
		    "stateMachine:NAME)",
		    shown);
	snprintf(out->partition, sizeof(out->partition), "%s", p[1]);
	snprintf(out->region, sizeof(out->region), "%s", p[3]);
	snprintf(out->account, sizeof(out->account), "%s", p[4]);
	snprintf(out->name, sizeof(out->name), "%s", p[6]);
	return 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void sfn_wire_exec_name(const char *run_key, int attempt, const char *tag,
			char *buf)
{
	char full[512];
	if (attempt > 1)
		snprintf(full, sizeof(full), "%s.a%d", run_key, attempt);
	else
		snprintf(full, sizeof(full), "%s", run_key);
	size_t room = SFN_WIRE_NAME_MAX - 1 - SFN_WIRE_TAG_LEN;
	if (strlen(full) <= room) {
		snprintf(buf, SFN_WIRE_NAME_MAX + 1, "%s@%s", full, tag);
		return;
	}
	/* too long: a prefix, then a hash of the whole name */
	snprintf(buf, SFN_WIRE_NAME_MAX + 1, "%.*s~%016llx@%s",
		 (int)(room - 17), full, (unsigned long long)fnv1a(full), tag);
}

char *sfn_wire_exec_arn(const struct sfn_wire_arn *m, const char *name)
{
	char *arn;
	if (asprintf(&arn, "arn:%s:states:%s:%s:execution:%s:%s", m->partition,
		     m->region, m->account, m->name, name) < 0)
		return NULL;
	return arn;
}

char *sfn_wire_machine_of(const char *exec_arn)
{
	char copy[512], *p[9], *arn;
	size_t n = strlen(exec_arn) < sizeof(copy)
		       ? split_arn(exec_arn, copy, sizeof(copy), p, 9)
		       : 0;
	if (n != 8 || strcmp(p[0], "arn") || strcmp(p[2], "states") ||
	    strcmp(p[5], "execution"))
		return NULL;
	if (asprintf(&arn, "arn:%s:states:%s:%s:stateMachine:%s", p[1], p[3],
		     p[4], p[6]) < 0)
		return NULL;
	return arn;
}

/* ---- the job's conf and the input ---- */

static const char *const sfn_conf_fields[] = {"state_machine_arn", "input",
					      NULL};

static int conf_check(struct call *c, const json_t *conf)
{
	const char *key;
	json_t *value;
	if (conf && !json_is_object(conf))
		return message_call_fail(c, -EINVAL,
					 "\"conf\" must be an object");
	json_object_foreach((json_t *)conf, key, value)
	{
		size_t i = 0;
		while (sfn_conf_fields[i] && strcmp(sfn_conf_fields[i], key))
			i++;
		if (!sfn_conf_fields[i])
			return message_call_fail(
			    c, -EINVAL,
			    "unknown conf field \"%s\"\nstepfunctions "
			    "takes: state_machine_arn input",
			    key);
	}
	const json_t *input = json_object_get(conf, "input");
	if (input && !json_is_object(input))
		return message_call_fail(
		    c, -EINVAL, "conf field \"input\": expected an object");
	if (!json_string_value(json_object_get(conf, "state_machine_arn")))
		return message_call_fail(c, -EINVAL,
					 "conf \"state_machine_arn\" is "
					 "required: the state machine to run");
	return 0;
}

/* Adds @value as @key of @input unless it is empty; taken. */
static int input_add(struct call *c, json_t *input, const char *key,
		     json_t *value)
{
	if (json_object_get(input, key) &&
	    json_object_size(value) + json_array_size(value) > 0) {
		json_decref(value);
		return message_call_fail(c, -EINVAL,
					 "conf \"input\" has \"%s\", and so "
					 "does the job: give only one",
					 key);
	}
	if (json_object_size(value) + json_array_size(value) == 0) {
		json_decref(value);
		return 0;
	}
	return json_object_set_new(input, key, value) ? -ENOMEM : 0;
}

int sfn_wire_input(struct call *c, const struct run_spec *run, char **input_out)
{
	const json_t *given = json_object_get(run->conf, "input");
	json_t *input = given ? json_deep_copy(given) : json_object();
	if (!input)
		return -ENOMEM;
	int rc =
	    input_add(c, input, "args",
		      run->args ? json_deep_copy(run->args) : json_array());
	if (rc == 0)
		rc = input_add(c, input, "env",
			       run->env ? json_deep_copy(run->env)
					: json_object());
	char *text = rc ? NULL : json_dumps(input, JSON_COMPACT);
	json_decref(input);
	if (rc == 0 && !text)
		rc = -ENOMEM;
	if (rc == 0 && strlen(text) > SFN_WIRE_INPUT_MAX)
		rc = message_call_fail(
		    c, -EINVAL,
		    "the execution input is %zu bytes, more than the %d "
		    "Step Functions takes",
		    strlen(text), SFN_WIRE_INPUT_MAX);
	if (rc)
		free(text);
	else
		*input_out = text;
	return rc;
}

int sfn_wire_validate(struct call *c, const struct run_spec *run)
{
	if (run->bundle_dir || run->entry_point)
		return message_call_fail(
		    c, -EINVAL,
		    "stepfunctions runs a state machine, not a bundle\n"
		    "deploy only the job's JSON (conf \"state_machine_arn\")");
	int rc = conf_check(c, run->conf);
	struct sfn_wire_arn m;
	if (rc == 0)
		rc = sfn_wire_machine_arn(c,
					  json_string_value(json_object_get(
					      run->conf, "state_machine_arn")),
					  &m);
	char *input = NULL;
	if (rc == 0)
		rc = sfn_wire_input(c, run, &input);
	free(input);
	return rc;
}

/* ---- executions ---- */

static const struct {
	const char *name;
	enum run_state state;
} sfn_states[] = {
    {"RUNNING", RUN_RUNNING},
    {"SUCCEEDED", RUN_SUCCEEDED},
    {"FAILED", RUN_FAILED},
    {"TIMED_OUT", RUN_FAILED},
    {"ABORTED", RUN_CANCELLED},
    /* a redrive was asked for: it runs again */
    {"PENDING_REDRIVE", RUN_RUNNING},
};

/* "error: cause" on one line (caller frees), or NULL when neither. */
static char *error_cause(const char *error, const char *cause)
{
	char *text = NULL, line[SFN_MESSAGE_MAX + 1];
	bool e = error && *error, k = cause && *cause;
	if (!e && !k)
		return NULL;
	if (asprintf(&text, "%s%s%s", e ? error : "", e && k ? ": " : "",
		     k ? cause : "") < 0)
		return NULL;
	message_printable(text, line, sizeof(line));
	free(text);
	return strdup(line);
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int sfn_wire_status(struct call *c, const json_t *exec, struct run_status *out)
{
	const char *status = str(exec, "status");
	if (!status)
		return message_call_fail(c, -EPROTO,
					 "execution without a \"status\"");
	snprintf(out->platform_state, sizeof(out->platform_state), "%s",
		 status);
	size_t i = 0;
	while (i < SFN_COUNT(sfn_states) && strcmp(sfn_states[i].name, status))
		i++;
	/* a status AWS may add later keeps the run where it was */
	out->state =
	    i < SFN_COUNT(sfn_states) ? sfn_states[i].state : RUN_QUEUED;
	out->exit_code = -1;
	out->started_at = json_number_value(json_object_get(exec, "startDate"));
	out->ended_at = json_number_value(json_object_get(exec, "stopDate"));
	if (out->state != RUN_FAILED)
		return 0;
	out->error = error_cause(str(exec, "error"), str(exec, "cause"));
	if (!out->error && asprintf(&out->error, "execution %s", status) < 0)
		out->error = NULL;
	return out->error ? 0 : -ENOMEM;
}

/* ---- errors ---- */

void sfn_wire_error_name(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *type = str(doc, "__type");
	const char *hash = type ? strrchr(type, '#') : NULL;
	snprintf(out, outlen, "%s", hash ? hash + 1 : type ? type : "");
	json_decref(doc);
}

int sfn_wire_error_text(const char *body, size_t len, char *out, size_t outlen)
{
	char name[128];
	sfn_wire_error_name(body, len, name, sizeof(name));
	if (!*name)
		return -ENOENT;
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *msg = str(doc, "message");
	if (!msg)
		msg = str(doc, "Message");
	snprintf(out, outlen, "%s%s%s", name, msg && *msg ? ": " : "",
		 msg ? msg : "");
	json_decref(doc);
	return 0;
}

static bool is_one_of(const char *name, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

bool sfn_wire_is_throttled(long status, const char *body, size_t len)
{
	static const char *const names[] = {"ThrottlingException",
					    "TooManyRequestsException",
					    "RequestLimitExceeded", NULL};
	char name[128];
	sfn_wire_error_name(body, len, name, sizeof(name));
	return status >= 400 && is_one_of(name, names);
}

int sfn_wire_error_errno(int rc, const char *body, size_t len)
{
	static const char *const gone[] = {"ExecutionDoesNotExist",
					   "StateMachineDoesNotExist",
					   "ResourceNotFound", NULL};
	static const char *const refused[] = {
	    "AccessDeniedException",
	    "UnrecognizedClientException",
	    "InvalidSignatureException",
	    "IncompleteSignature",
	    "IncompleteSignatureException",
	    "MissingAuthenticationTokenException",
	    "ExpiredTokenException",
	    "InvalidClientTokenId",
	    NULL};
	static const char *const later[] = {
	    "ThrottlingException",  "TooManyRequestsException",
	    "RequestLimitExceeded", "ExecutionLimitExceeded",
	    "ServiceUnavailable",   NULL};
	char name[128];
	sfn_wire_error_name(body, len, name, sizeof(name));
	if (is_one_of(name, gone))
		return -ENOENT;
	if (is_one_of(name, refused))
		return -EACCES;
	if (is_one_of(name, later))
		return -EAGAIN;
	return rc;
}

/* ---- history ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The "...EventDetails" object of @event, or NULL. */
static const json_t *event_details(const json_t *event)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)event, key, value)
	{
		if (ends_with(key, "EventDetails") && json_is_object(value))
			return value;
	}
	return NULL;
}

static bool is_failure(const char *type)
{
	return strncmp(type, "Execution", 9) != 0 &&
	       (ends_with(type, "Failed") || ends_with(type, "TimedOut"));
}

static bool is_success(const char *type)
{
	return strcmp(type, "TaskSucceeded") == 0 ||
	       strcmp(type, "LambdaFunctionSucceeded") == 0 ||
	       strcmp(type, "ActivitySucceeded") == 0;
}

/* The steps being built: the array and, per step, its base name. */
struct steps {
	json_t *list;
	json_t *open; /* array of indexes into list, oldest first */
};

static int step_open(struct steps *s, const char *name, double at)
{
	size_t seen = 0, i;
	json_t *step;
	json_array_foreach(s->list, i, step)
	{
		if (strcmp(str(step, "base"), name) == 0)
			seen++;
	}
	char unique[200];
	if (seen > 0)
		snprintf(unique, sizeof(unique), "%s#%zu", name, seen + 1);
	else
		snprintf(unique, sizeof(unique), "%s", name);
	step = json_pack("{s:s, s:s, s:s, s:f, s:i}", "name", unique, "base",
			 name, "state", "RUNNING", "started", at, "ended", 0);
	if (!step || json_array_append_new(s->list, step) ||
	    json_array_append_new(
		s->open,
		json_integer((json_int_t)json_array_size(s->list) - 1)))
		return -ENOMEM;
	return 0;
}

static json_t *open_step(const struct steps *s, size_t k)
{
	return json_array_get(
	    s->list, (size_t)json_integer_value(json_array_get(s->open, k)));
}

/* Closes open step number @k in @state, with its failure if any. */
static int step_close(struct steps *s, size_t k, enum run_state state,
		      double at, const char *why)
{
	json_t *step = open_step(s, k);
	const char *failure = str(step, "failure");
	if (state == RUN_SUCCEEDED && failure)
		state = RUN_FAILED;
	const char *msg = failure ? failure : why;
	if (json_object_set_new(step, "state",
				json_string(state_name(state))) ||
	    json_object_set_new(step, "ended", json_real(at)) ||
	    (msg && json_object_set_new(step, "message", json_string(msg))) ||
	    json_array_remove(s->open, k))
		return -ENOMEM;
	return 0;
}

static int step_exited(struct steps *s, const char *name, double at)
{
	for (size_t k = 0; k < json_array_size(s->open); k++)
		if (strcmp(str(open_step(s, k), "base"), name) == 0)
			return step_close(s, k, RUN_SUCCEEDED, at, NULL);
	return 0; /* an exit without its entry: a history cut short */
}

/* A failure or a success inside the newest open step. */
static int step_mark(struct steps *s, const char *type, const json_t *details)
{
	size_t n = json_array_size(s->open);
	if (n == 0)
		return 0;
	json_t *step = open_step(s, n - 1);
	if (is_success(type)) { /* a retry of the task worked */
		json_object_del(step, "failure");
		return 0;
	}
	char *why = error_cause(str(details, "error"), str(details, "cause"));
	if (!why && asprintf(&why, "%s", type) < 0)
		return -ENOMEM;
	int rc = json_object_set_new(step, "failure", json_string(why))
		     ? -ENOMEM
		     : 0;
	free(why);
	return rc;
}

/* The execution ended: every open step ends with it. */
static int steps_end(struct steps *s, const char *type, const json_t *details,
		     double at)
{
	enum run_state state =
	    strcmp(type, "ExecutionSucceeded") == 0 ? RUN_SUCCEEDED
	    : strcmp(type, "ExecutionAborted") == 0 ? RUN_CANCELLED
						    : RUN_FAILED;
	char *why = error_cause(str(details, "error"), str(details, "cause"));
	int rc = 0;
	while (rc == 0 && json_array_size(s->open) > 0)
		rc = step_close(s, 0, state, at, why);
	free(why);
	return rc;
}

static int steps_event(struct steps *s, const json_t *event)
{
	const char *type = str(event, "type");
	const json_t *details = event_details(event);
	const char *name = str(details, "name");
	double at = json_number_value(json_object_get(event, "timestamp"));
	if (!type)
		return 0;
	if (ends_with(type, "StateEntered") && name)
		return step_open(s, name, at);
	if (ends_with(type, "StateExited") && name)
		return step_exited(s, name, at);
	if (strcmp(type, "ExecutionSucceeded") == 0 ||
	    strcmp(type, "ExecutionFailed") == 0 ||
	    strcmp(type, "ExecutionAborted") == 0 ||
	    strcmp(type, "ExecutionTimedOut") == 0)
		return steps_end(s, type, details, at);
	if (is_failure(type) || is_success(type))
		return step_mark(s, type, details);
	return 0;
}

int sfn_wire_steps(const json_t *events, json_t **steps_out)
{
	struct steps s = {json_array(), json_array()};
	int rc = s.list && s.open ? 0 : -ENOMEM;
	size_t i;
	json_t *event;
	json_array_foreach(events, i, event)
	{
		if (rc == 0)
			rc = steps_event(&s, event);
	}
	json_array_foreach(s.list, i, event)
	{
		json_object_del(event, "base");
		json_object_del(event, "failure");
	}
	json_decref(s.open);
	if (rc)
		json_decref(s.list);
	else
		*steps_out = s.list;
	return rc;
}

void sfn_wire_log(const json_t *events, FILE *f)
{
	size_t i;
	json_t *event;
	json_array_foreach(events, i, event)
	{
		const json_t *details = event_details(event);
		const char *type = str(event, "type"),
			   *name = str(details, "name");
		char when[32];
		clock_iso8601(
		    json_number_value(json_object_get(event, "timestamp")),
		    when, sizeof(when));
		char *why =
		    error_cause(str(details, "error"), str(details, "cause"));
		fprintf(f, "%s %s%s%s%s%s\n", *when ? when : "-",
			type ? type : "?", name ? " " : "", name ? name : "",
			why ? " " : "", why ? why : "");
		free(why);
	}
}

/* ---- state files ---- */

int sfn_wire_tag(const char *dir, char *tag_out, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	char path[PATH_MAX], *text = NULL;
	unsigned char raw[SFN_WIRE_TAG_LEN / 2] = {0};
	size_t len;
	snprintf(path, sizeof(path), "%s/instance", dir);
	int rc = fsutil_read_all(path, 64, &text, &len);
	bool ok = rc == 0 && strspn(text, hex) >= SFN_WIRE_TAG_LEN;
	if (ok)
		snprintf(tag_out, SFN_WIRE_TAG_LEN + 1, "%s", text);
	free(text);
	if (ok)
		return 0;
	rc = getrandom(raw, sizeof(raw), 0) == sizeof(raw) ? 0 : -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		tag_out[2 * i] = hex[raw[i] >> 4];
		tag_out[2 * i + 1] = hex[raw[i] & 15];
	}
	tag_out[SFN_WIRE_TAG_LEN] = '\0';
	if (rc == 0)
		rc = fsutil_write_atomic(path, tag_out, SFN_WIRE_TAG_LEN, 0600);
	if (rc)
		return message_fail(err, errlen, rc, "cannot write \"%s\": %s",
				    path, strerror(-rc));
	return 0;
}
