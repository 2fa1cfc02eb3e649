#ifndef JOBFS_SPARK_H
#define JOBFS_SPARK_H
#include "platform_ops.h"
#endif
