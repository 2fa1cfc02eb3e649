/* Job configs: parsing, errors, run overrides, redaction, job names. */
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "jobconf.h"

static char err[512];

static int parse(const char *text, struct job_config *conf)
{
	err[0] = '\0';
	return jobconf_parse(text, strlen(text), conf, err, sizeof(err));
}

/* Parses @text expecting -EINVAL, and returns the error's first line. */
static const char *parse_error(const char *text)
{
	struct job_config conf;
	int rc = parse(text, &conf);
	ck_assert_msg(rc == -EINVAL, "accepted: %s", text);
	ck_assert_ptr_null(conf.args);
	char *nl = strchr(err, '\n');
	if (nl)
		*nl = '\0';
	return err;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static const char *details(void)
{
	return err + strlen(err) + 1;
}

START_TEST(full_config)
{
	struct job_config conf;
	ck_assert_int_eq(
	    parse("{\"platform\": \"hpc\", \"entry_point\": \"main.py\","
		  " \"args\": [\"in.txt\", \"-v\"], \"env\": {\"K\": \"v\"},"
		  " \"conf\": {\"spark\": {\"cores\": 4}}, \"timeout\": 3600,"
		  " \"retries\": 2, \"run\": false}",
		  &conf),
	    0);
	ck_assert_str_eq(conf.platform, "hpc");
	ck_assert_str_eq(conf.entry_point, "main.py");
	ck_assert_int_eq(json_array_size(conf.args), 2);
	ck_assert_str_eq(json_string_value(json_array_get(conf.args, 1)), "-v");
	ck_assert_str_eq(json_string_value(json_object_get(conf.env, "K")),
			 "v");
	json_t *spark = json_object_get(conf.conf, "spark");
	ck_assert_int_eq(json_integer_value(json_object_get(spark, "cores")),
			 4);
	ck_assert_int_eq(conf.timeout, 3600);
	ck_assert_int_eq(conf.retries, 2);
	ck_assert(!conf.run);
	jobconf_release(&conf);
	ck_assert_ptr_null(conf.platform);
}
END_TEST

START_TEST(defaults)
{
	struct job_config conf;
	ck_assert_int_eq(parse(" {} \n", &conf), 0);
	ck_assert_ptr_null(conf.platform);
	ck_assert_ptr_null(conf.entry_point);
	ck_assert(json_is_array(conf.args) && json_array_size(conf.args) == 0);
	ck_assert(json_is_object(conf.env) && json_object_size(conf.env) == 0);
	ck_assert(json_is_object(conf.conf));
	ck_assert_int_eq(conf.timeout, 0);
	ck_assert_int_eq(conf.retries, 0);
	ck_assert(conf.run);
	jobconf_release(&conf);

	/* null means "the default" for the two optional strings */
	ck_assert_int_eq(
	    parse("{\"platform\": null, \"entry_point\": null}", &conf), 0);
	ck_assert_ptr_null(conf.platform);
	jobconf_release(&conf);
}
END_TEST

static const struct {
	const char *text;
	const char *first_line;
} type_errors[] = {
    {"{\"platform\": 1}", "field \"platform\": expected a non-empty string"},
    {"{\"platform\": \"\"}", "field \"platform\": expected a non-empty string"},
    {"{\"entry_point\": [\"a\"]}",
     "field \"entry_point\": expected a non-empty string"},
    {"{\"args\": \"a b\"}", "field \"args\": expected an array of strings"},
    {"{\"args\": [\"a\", 2]}", "field \"args\": expected an array of strings"},
    {"{\"args\": null}", "field \"args\": expected an array of strings"},
    {"{\"env\": []}", "field \"env\": expected an object of strings"},
    {"{\"env\": {\"A\": \"1\", \"B\": 2}}",
     "field \"env\": expected an object of strings"},
    {"{\"conf\": \"x\"}", "field \"conf\": expected an object"},
    {"{\"timeout\": \"1h\"}",
     "field \"timeout\": expected a non-negative integer"},
    {"{\"timeout\": 1.5}",
     "field \"timeout\": expected a non-negative integer"},
    {"{\"timeout\": -1}", "field \"timeout\": expected a non-negative integer"},
    {"{\"retries\": -2}", "field \"retries\": expected a non-negative integer"},
    {"{\"retries\": 99999999999}",
     "field \"retries\": expected a non-negative integer"},
    {"{\"run\": \"yes\"}", "field \"run\": expected a boolean"},
    {"{\"run\": 1}", "field \"run\": expected a boolean"},
    {"[]", "config must be a JSON object"},
    {"\"x\"", "config must be a JSON object"},
};

START_TEST(wrong_types)
{
	ck_assert_str_eq(parse_error(type_errors[_i].text),
			 type_errors[_i].first_line);
}
END_TEST

START_TEST(type_error_details)
{
	parse_error("{\"args\": [\"a\", 2]}");
	ck_assert_str_eq(details(), "element 1 is a number");
	parse_error("{\"env\": {\"A\": \"1\", \"B\": {}}}");
	ck_assert_str_eq(details(), "\"B\" is an object");
	parse_error("{\"run\": null}");
	ck_assert_str_eq(details(), "found null");
}
END_TEST

START_TEST(unknown_fields)
{
	ck_assert_str_eq(parse_error("{\"platfrom\": \"x\"}"),
			 "unknown field \"platfrom\" (did you mean "
			 "\"platform\"?)");
	ck_assert_str_eq(details(),
			 "allowed fields: platform, entry_point, args, env, "
			 "conf, timeout, retries, run");
	ck_assert_str_eq(parse_error("{\"entrypoint\": \"x\"}"),
			 "unknown field \"entrypoint\" (did you mean "
			 "\"entry_point\"?)");
	ck_assert_str_eq(parse_error("{\"Timeout\": 3}"),
			 "unknown field \"Timeout\" (did you mean "
			 "\"timeout\"?)");
	ck_assert_str_eq(parse_error("{\"cluster\": {}}"),
			 "unknown field \"cluster\"");
	/* a key cannot forge a second line in NAME.error */
	ck_assert_str_eq(parse_error("{\"a\\nb\": 1}"),
			 "unknown field \"a?b\"");
}
END_TEST

START_TEST(bad_json)
{
	ck_assert_str_eq(
	    parse_error("{\n  \"platform\": \"x\",\n  \"args\": ]\n}"),
	    "bad JSON in config");
	ck_assert_msg(starts_with(details(), "line 3, column "), "%s",
		      details());
	ck_assert_str_eq(parse_error(""), "bad JSON in config");
	ck_assert_str_eq(parse_error("{\"run\": true} x"),
			 "bad JSON in config");
	ck_assert_str_eq(parse_error("{\"run\": true, \"run\": false}"),
			 "bad JSON in config");
	ck_assert_msg(strstr(details(), "duplicate"), "%s", details());
}
END_TEST

static const struct {
	const char *text;
	bool complete;
} complete_table[] = {
    {"", false},
    {"   \n", false},
    {"{", false},
    {"{\"a\":", false},
    {"{\"a\":1", false},
    {"{\"a\":\"tr", false},
    {"{\"a\":1}", true},
    {"{\"a\":1}\n", true},
    {" \t{\"a\":1} \n\n", true},
    {"[1, 2]", true},
    {"{\"a\":1} x", false},
    {"{\"a\":1}}", false},
    {"12", false},
    {"{\"a\":1,\"a\":2}", true},
    {"{\"platfrom\":\"x\"}\n", true},
};

START_TEST(complete_json)
{
	const char *text = complete_table[_i].text;
	ck_assert_msg(jobconf_is_complete_json(text, strlen(text)) ==
			  complete_table[_i].complete,
		      "\"%s\"", text);
}
END_TEST

/* Whether more bytes could still complete the text into JSON. */
static const struct {
	const char *text;
	bool prefix;
} prefix_table[] = {
    {"", true},
    {" \n", true},
    {"{", true},
    {"{\"args\": [\"x\"", true},
    {"{\"a\":\"tr", true},
    {"{\"a\":1}", false},
    {"not json\n", false},
    {"{\"a\" 1", false},
    {"{\"a\":1} x", false},
};

START_TEST(json_prefix)
{
	const char *text = prefix_table[_i].text;
	ck_assert_msg(jobconf_is_json_prefix(text, strlen(text)) ==
			  prefix_table[_i].prefix,
		      "\"%s\"", text);
}
END_TEST

static void parse_base(struct job_config *base)
{
	ck_assert_int_eq(
	    parse("{\"platform\": \"p\", \"args\": [\"a\"],"
		  " \"env\": {\"A\": \"1\", \"B\": \"2\"},"
		  " \"conf\": {\"x\": 1, \"nested\": {\"k\": 1, \"l\": 2}},"
		  " \"timeout\": 9}",
		  base),
	    0);
}

static int override(const struct job_config *base, const char *text,
		    struct job_config *out)
{
	err[0] = '\0';
	return jobconf_override(base, text, strlen(text), out, err,
				sizeof(err));
}

START_TEST(override_merges)
{
	struct job_config base, out;
	parse_base(&base);
	ck_assert_int_eq(
	    override(&base,
		     "{\"args\": [\"b\", \"c\"], \"env\": {\"B\": \"3\"},"
		     " \"conf\": {\"nested\": {\"k\": 5}, \"y\": true}}",
		     &out),
	    0);
	ck_assert_int_eq(json_array_size(out.args), 2);
	ck_assert_str_eq(json_string_value(json_array_get(out.args, 0)), "b");
	ck_assert_str_eq(json_string_value(json_object_get(out.env, "A")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(out.env, "B")), "3");
	ck_assert_int_eq(json_integer_value(json_object_get(out.conf, "x")), 1);
	ck_assert(json_is_true(json_object_get(out.conf, "y")));
	/* conf merges at the top level only: "nested" is replaced */
	json_t *nested = json_object_get(out.conf, "nested");
	ck_assert_int_eq(json_object_size(nested), 1);
	ck_assert_str_eq(out.platform, "p");
	ck_assert_int_eq(out.timeout, 9);
	/* the base is untouched */
	ck_assert_str_eq(json_string_value(json_object_get(base.env, "B")),
			 "2");
	ck_assert_int_eq(json_array_size(base.args), 1);
	ck_assert_ptr_null(json_object_get(base.conf, "y"));
	jobconf_release(&out);
	jobconf_release(&base);
}
END_TEST

START_TEST(override_empty)
{
	struct job_config base, out;
	parse_base(&base);
	const char *blanks[] = {"", " \n\t "};
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(override(&base, blanks[i], &out), 0);
		ck_assert(json_equal(out.args, base.args));
		ck_assert(json_equal(out.env, base.env));
		ck_assert(json_equal(out.conf, base.conf));
		ck_assert_str_eq(out.platform, "p");
		ck_assert_ptr_null(out.entry_point);
		jobconf_release(&out);
	}
	jobconf_release(&base);
}
END_TEST

START_TEST(override_rejects)
{
	struct job_config base, out;
	parse_base(&base);
	ck_assert_int_eq(override(&base, "{\"platform\": \"q\"}", &out),
			 -EINVAL);
	ck_assert_str_eq(err, "unknown field \"platform\" in run override\n"
			      "allowed fields: args, env, conf");
	ck_assert_ptr_null(out.args);
	ck_assert_int_eq(override(&base, "{\"arg\": []}", &out), -EINVAL);
	ck_assert(starts_with(err,
			      "unknown field \"arg\" in run override (did you "
			      "mean \"args\"?)"));
	ck_assert_int_eq(override(&base, "{\"timeout\": 5}", &out), -EINVAL);
	ck_assert_int_eq(override(&base, "{\"args\": \"x\"}", &out), -EINVAL);
	ck_assert(
	    starts_with(err, "field \"args\": expected an array of strings"));
	ck_assert_int_eq(override(&base, "{\"env\": {\"A\": 1}}", &out),
			 -EINVAL);
	ck_assert_int_eq(override(&base, "{\"conf\": []}", &out), -EINVAL);
	ck_assert_int_eq(override(&base, "[\"a\"]", &out), -EINVAL);
	ck_assert(starts_with(err, "run override must be a JSON object"));
	ck_assert_int_eq(override(&base, "{\"args\": [", &out), -EINVAL);
	ck_assert(starts_with(err, "bad JSON in run override\nline 1, column"));
	ck_assert_ptr_null(out.args);
	jobconf_release(&base);
}
END_TEST

START_TEST(to_json_has_all_fields)
{
	struct job_config conf;
	ck_assert_int_eq(parse("{\"args\": [\"x\"], \"retries\": 3}", &conf),
			 0);
	json_t *v = jobconf_to_json(&conf);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_object_size(v), 8);
	ck_assert(json_is_null(json_object_get(v, "platform")));
	ck_assert(json_is_null(json_object_get(v, "entry_point")));
	ck_assert_int_eq(json_integer_value(json_object_get(v, "retries")), 3);
	ck_assert(json_is_true(json_object_get(v, "run")));
	/* and it parses back to the same config */
	char *text = json_dumps(v, 0);
	struct job_config back;
	ck_assert_int_eq(parse(text, &back), 0);
	ck_assert(json_equal(back.args, conf.args));
	ck_assert_int_eq(back.retries, 3);
	free(text);
	json_decref(v);
	jobconf_release(&back);
	jobconf_release(&conf);
}
END_TEST

START_TEST(redaction)
{
	struct job_config conf;
	ck_assert_int_eq(
	    parse("{\"args\": [\"s3cr3t-arg-kept\"],"
		  " \"env\": {\"GITHUB_TOKEN\": \"S1\", \"PATH\": \"/bin\","
		  "  \"Db_PassWord\": \"S2\"},"
		  " \"conf\": {\"spark\": {\"auth\": {\"my_api_key\": \"S3\","
		  "  \"user\": \"bob\", \"retries\": 3},"
		  "  \"list\": [{\"client_secret\": \"S4\"}, \"plain\"]},"
		  "  \"credentials\": {\"a\": \"S5\", \"b\": [\"S6\"]},"
		  "  \"tokens\": [\"S7\"], \"token_count\": 2,"
		  "  \"AWS_ACCESS_KEY_ID\": \"S8\"}}",
		  &conf),
	    0);
	json_t *red = jobconf_to_redacted_json(&conf);
	char *text = json_dumps(red, JSON_SORT_KEYS);
	for (int i = 1; i <= 8; i++) {
		char secret[4];
		snprintf(secret, sizeof(secret), "S%d", i);
		ck_assert_msg(!strstr(text, secret), "%s leaked: %s", secret,
			      text);
	}
	ck_assert_ptr_nonnull(strstr(text, "\"bob\""));
	ck_assert_ptr_nonnull(strstr(text, "\"/bin\""));
	ck_assert_ptr_nonnull(strstr(text, "\"plain\""));
	ck_assert_ptr_nonnull(strstr(text, "s3cr3t-arg-kept"));
	ck_assert_ptr_nonnull(strstr(text, "\"token_count\": 2"));
	ck_assert_ptr_nonnull(strstr(text, "\"GITHUB_TOKEN\": \"***\""));
	free(text);
	json_decref(red);

	/* the config itself and the plain JSON keep the values */
	ck_assert_str_eq(
	    json_string_value(json_object_get(conf.env, "GITHUB_TOKEN")), "S1");
	json_t *plain = jobconf_to_json(&conf);
	text = json_dumps(plain, 0);
	ck_assert_ptr_nonnull(strstr(text, "S4"));
	free(text);
	json_decref(plain);
	jobconf_release(&conf);
}
END_TEST

static const struct {
	const char *name;
	bool valid;
	bool reserved;
} name_table[] = {
    {"etl", true, false},
    {"etl.v2", true, false},
    {"A-b_c.9", true, false},
    {"9lives", true, false},
    {"_x", true, false},
    {"", false, false},
    {".hidden", false, true},
    {"-x", false, false},
    {"a b", false, false},
    {"a/b", false, false},
    {"caf\xc3\xa9", false, false},
    {"a\nb", false, false},
    {"README", true, true},
    {"new", true, true},
    {"by-state", true, true},
    {"platforms", true, true},
    {"readme", true, false},
    {"news", true, false},
    {".", false, true},
    {"..", false, true},
};

START_TEST(names)
{
	const char *name = name_table[_i].name;
	ck_assert_msg(jobname_is_valid(name) == name_table[_i].valid, "%s",
		      name);
	ck_assert_msg(jobname_is_reserved(name) == name_table[_i].reserved,
		      "%s", name);
	bool usable = name_table[_i].valid && !name_table[_i].reserved;
	ck_assert_int_eq(jobname_check(name, err, sizeof(err)),
			 usable ? 0 : -EINVAL);
}
END_TEST

START_TEST(name_length)
{
	char name[131];
	memset(name, 'a', sizeof(name));
	name[128] = '\0';
	ck_assert(jobname_is_valid(name));
	ck_assert_int_eq(jobname_check(name, err, sizeof(err)), 0);
	name[128] = 'a';
	name[129] = '\0';
	ck_assert(!jobname_is_valid(name));
	ck_assert_int_eq(jobname_check(name, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(name_messages)
{
	ck_assert_int_eq(jobname_check("x y", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "invalid job name \"x y\"\n"
			      "a job name is 1-128 characters of "
			      "[A-Za-z0-9._-], not starting with '.' or '-'");
	ck_assert_int_eq(jobname_check("new", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "reserved job name \"new\"");
	ck_assert_int_eq(jobname_check("a\nb", err, sizeof(err)), -EINVAL);
	ck_assert(starts_with(err, "invalid job name \"a?b\"\n"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jobconf");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, full_config);
	tcase_add_test(tc, defaults);
	tcase_add_loop_test(tc, wrong_types, 0,
			    sizeof(type_errors) / sizeof(type_errors[0]));
	tcase_add_test(tc, type_error_details);
	tcase_add_test(tc, unknown_fields);
	tcase_add_test(tc, bad_json);
	tcase_add_loop_test(tc, complete_json, 0,
			    sizeof(complete_table) / sizeof(complete_table[0]));
	tcase_add_loop_test(tc, json_prefix, 0,
			    sizeof(prefix_table) / sizeof(prefix_table[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("override");
	tcase_add_test(tc, override_merges);
	tcase_add_test(tc, override_empty);
	tcase_add_test(tc, override_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, to_json_has_all_fields);
	tcase_add_test(tc, redaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_loop_test(tc, names, 0,
			    sizeof(name_table) / sizeof(name_table[0]));
	tcase_add_test(tc, name_length);
	tcase_add_test(tc, name_messages);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
