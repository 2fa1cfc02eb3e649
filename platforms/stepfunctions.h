/*
 * AWS Step Functions (kind "stepfunctions"): a job starts an execution of
 * a STANDARD state machine; see stepfunctions.c.
 */
#ifndef JOBFS_STEPFUNCTIONS_H
#define JOBFS_STEPFUNCTIONS_H

#include "platform_ops.h"

extern const struct platform_ops stepfunctions_platform;

#endif
