/* The token bucket (src/ratelimit.h). */
#include <errno.h>

#include "check_main.h"
#include "clock.h"
#include "ratelimit.h"

START_TEST(test_no_rate_never_waits)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(rate_limit_take(&rl, 0), 0);
	ck_assert_uint_eq(rl.waited + rl.refused, 0);
	rate_limit_destroy(&rl);
}
END_TEST

START_TEST(test_burst_then_refused_beyond_the_wait)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 4); /* a burst of 4, then one per 0.25 s */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rate_limit_take(&rl, 0), 0);
	ck_assert_int_eq(rate_limit_take(&rl, 0.01), -EAGAIN);
	ck_assert_uint_eq(rl.refused, 1);
	rate_limit_destroy(&rl);
}
END_TEST

START_TEST(test_waits_for_its_token)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 0.5); /* one token, the next after 2 s */
	ck_assert_int_eq(rate_limit_take(&rl, 0), 0);
	double started = clock_mono();
	ck_assert_int_eq(rate_limit_take(&rl, 10), 0);
	ck_assert_double_ge(clock_mono() - started, 1.5);
	ck_assert_uint_eq(rl.waited, 1);
	/* the next one is reserved behind it: 2 s more than it may wait */
	ck_assert_int_eq(rate_limit_take(&rl, 1), -EAGAIN);
	rate_limit_destroy(&rl);
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("bucket");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_no_rate_never_waits);
	tcase_add_test(tc, test_burst_then_refused_beyond_the_wait);
	tcase_add_test(tc, test_waits_for_its_token);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_main_run(ratelimit_suite());
}
