/*
 * Formatting of status, status.json and error. Kept apart from the core so
 * that the words users read are in one place and testable without a mount.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "job_render.h"

static int text_result(char *text, char **text_out, size_t *len_out)
{
	if (!text)
		return -ENOMEM;
	*text_out = text;
	*len_out = strlen(text);
	return 0;
}

int job_render_status(const struct run_view *v, char **text_out,
		      size_t *len_out)
{
	char *text;
	if (asprintf(&text, "%s\n", state_name(v->state)) < 0)
		text = NULL;
	return text_result(text, text_out, len_out);
}

static json_t *time_or_null(double t)
{
	char stamp[32];
	if (t <= 0)
		return json_null();
	clock_iso8601(t, stamp, sizeof(stamp));
	return json_string(stamp);
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int job_render_status_json(const struct run_view *v, char **text_out,
			   size_t *len_out)
{
	json_t *doc = json_object();
	if (!doc)
		return -ENOMEM;
	json_object_set_new(doc, "name", json_string(v->job));
	json_object_set_new(doc, "run", json_integer(v->number));
	json_object_set_new(doc, "platform", string_or_null(v->platform));
	json_object_set_new(doc, "remote_id", string_or_null(v->remote_id));
	json_object_set_new(doc, "state", json_string(state_name(v->state)));
	json_object_set_new(doc, "platform_state",
			    string_or_null(v->platform_state));
	json_object_set_new(doc, "submitted_at", time_or_null(v->submitted_at));
	json_object_set_new(doc, "started_at", time_or_null(v->started_at));
	json_object_set_new(doc, "ended_at", time_or_null(v->ended_at));
	json_object_set_new(doc, "exit_code",
			    v->exit_code >= 0 ? json_integer(v->exit_code)
					      : json_null());
	json_object_set_new(doc, "error", string_or_null(v->error));
	json_object_set_new(doc, "attempts", json_integer(v->attempts));
	json_object_set_new(doc, "updated_at", time_or_null(v->updated_at));
	json_object_set_new(
	    doc, "age_s",
	    json_real((double)(long long)(v->age_s * 1000) / 1000));
	json_object_set_new(doc, "source", json_string(v->source));
	json_object_set_new(doc, "stale", json_boolean(v->stale));
	if (v->stale)
		json_object_set_new(doc, "stale_reason",
				    string_or_null(v->stale_reason));
	char *body = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					 JSON_REAL_PRECISION(4));
	json_decref(doc);
	char *text = NULL;
	if (body && asprintf(&text, "%s\n", body) < 0)
		text = NULL;
	free(body);
	return text_result(text, text_out, len_out);
}

int job_render_error(const struct run_view *v, char **text_out, size_t *len_out)
{
	char *text;
	bool failed = v->state == RUN_FAILED || v->state == RUN_LOST;
	if (!failed || !v->error)
		text = strdup("");
	else if (asprintf(&text, "%s\n", v->error) < 0)
		text = NULL;
	return text_result(text, text_out, len_out);
}
