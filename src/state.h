/*
 * Run states and the rules between them (pure, no I/O).
 *
 * The order of the enum is the order in which a run may move: a run only
 * ever moves to a later state, and never out of a terminal one, so readers
 * never see a state going backwards.
 */
#ifndef JOBFS_STATE_H
#define JOBFS_STATE_H

#include <stdbool.h>

enum run_state {
	RUN_DEPLOYING,
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_CANCELLING,
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_CANCELLED,
	RUN_LOST,
	RUN_STATE_COUNT
};

/* The upper-case name, e.g. "RUNNING"; "UNKNOWN" for an out-of-range value. */
const char *state_name(enum run_state state);

/* Parses an upper-case state name: 0, or -EINVAL when it names no state. */
int state_parse(const char *name, enum run_state *state_out);

bool state_is_terminal(enum run_state state);

/* Whether a run in @from may be shown next in @to (false for from == to). */
bool state_can_move(enum run_state from, enum run_state to);

#endif
