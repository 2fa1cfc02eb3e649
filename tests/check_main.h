/*
 * The main() shared by the Check programs: runs one suite, prints TAP (one
 * line per test case for automake's tap-driver), exits non-zero on failure.
 */
#ifndef JOBFS_CHECK_MAIN_H
#define JOBFS_CHECK_MAIN_H

#include <stdlib.h>

#include <check.h>

static inline int check_main_run(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	srunner_set_tap(runner, "-");
	srunner_run_all(runner, CK_SILENT);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
