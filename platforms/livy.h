#ifndef JOBFS_LIVY_H
#define JOBFS_LIVY_H
#include "platform_ops.h"
#endif
