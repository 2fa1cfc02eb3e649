/*
 * The local platform: runs jobs as processes on this host, each under a
 * small supervisor process (`jobfs --platform-helper local ...`) that
 * outlives the daemon. See local.c for the run directory layout.
 */
#ifndef JOBFS_LOCAL_H
#define JOBFS_LOCAL_H

#include "platform_ops.h"

extern const struct platform_ops local_platform;

#endif
