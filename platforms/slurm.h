#ifndef JOBFS_SLURM_H
#define JOBFS_SLURM_H
#include "platform_ops.h"
#endif
