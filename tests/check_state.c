/* Run states: names round-trip, terminal set, and allowed transitions. */
#include <errno.h>

#include "check_main.h"
#include "state.h"

START_TEST(names_round_trip)
{
	for (int s = 0; s < RUN_STATE_COUNT; s++) {
		enum run_state back;
		ck_assert_int_eq(state_parse(state_name(s), &back), 0);
		ck_assert_int_eq(back, s);
	}
	enum run_state ignored;
	ck_assert_int_eq(state_parse("running", &ignored), -EINVAL);
	ck_assert_str_eq(state_name(RUN_STATE_COUNT), "UNKNOWN");
}
END_TEST

START_TEST(terminal_states_are_final)
{
	enum run_state terminal[] = {RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED,
				     RUN_LOST};
	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++) {
		ck_assert(state_is_terminal(terminal[i]));
		for (int to = 0; to < RUN_STATE_COUNT; to++)
			ck_assert(!state_can_move(terminal[i], to));
	}
	ck_assert(!state_is_terminal(RUN_CANCELLING));
}
END_TEST

START_TEST(never_backwards)
{
	ck_assert(state_can_move(RUN_DEPLOYING, RUN_QUEUED));
	ck_assert(state_can_move(RUN_QUEUED, RUN_RUNNING));
	ck_assert(state_can_move(RUN_RUNNING, RUN_CANCELLING));
	ck_assert(state_can_move(RUN_CANCELLING, RUN_CANCELLED));
	ck_assert(state_can_move(RUN_CANCELLING, RUN_SUCCEEDED));
	ck_assert(state_can_move(RUN_QUEUED, RUN_FAILED));
	ck_assert(!state_can_move(RUN_RUNNING, RUN_QUEUED));
	ck_assert(!state_can_move(RUN_CANCELLING, RUN_RUNNING));
	ck_assert(!state_can_move(RUN_RUNNING, RUN_RUNNING));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("transitions");
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, terminal_states_are_final);
	tcase_add_test(tc, never_backwards);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
