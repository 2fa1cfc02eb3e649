/*
 * Run states: names, the terminal set, and the allowed transitions.
 */
#include <errno.h>
#include <string.h>

#include "state.h"

static const char *const state_names[RUN_STATE_COUNT] = {
    [RUN_DEPLOYING] = "DEPLOYING", [RUN_QUEUED] = "QUEUED",
    [RUN_RUNNING] = "RUNNING",	   [RUN_CANCELLING] = "CANCELLING",
    [RUN_SUCCEEDED] = "SUCCEEDED", [RUN_FAILED] = "FAILED",
    [RUN_CANCELLED] = "CANCELLED", [RUN_LOST] = "LOST",
};

const char *state_name(enum run_state state)
{
	if ((unsigned)state >= RUN_STATE_COUNT)
		return "UNKNOWN";
	return state_names[state];
}

int state_parse(const char *name, enum run_state *state_out)
{
	for (int s = 0; s < RUN_STATE_COUNT; s++) {
		if (strcmp(name, state_names[s]) == 0) {
			*state_out = (enum run_state)s;
			return 0;
		}
	}
	return -EINVAL;
}

bool state_is_terminal(enum run_state state)
{
	return state >= RUN_SUCCEEDED && state < RUN_STATE_COUNT;
}

bool state_can_move(enum run_state from, enum run_state to)
{
	if ((unsigned)to >= RUN_STATE_COUNT || state_is_terminal(from))
		return false;
	return to > from;
}
