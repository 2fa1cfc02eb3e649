/*
 * Databricks one-time runs through the Jobs API 2.1/2.2 (kind
 * "databricks"); see databricks.c.
 */
#ifndef JOBFS_DATABRICKS_H
#define JOBFS_DATABRICKS_H

#include "platform_ops.h"

extern const struct platform_ops databricks_platform;

#endif
