/*
 * The Slurm platform: runs go to a cluster through slurmrestd (JWT auth).
 * What it sends and reads, and its config, are in slurm_wire.h.
 */
#ifndef JOBFS_SLURM_H
#define JOBFS_SLURM_H

#include "platform_ops.h"

extern const struct platform_ops slurm_platform;

#endif
