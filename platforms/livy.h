/*
 * Spark batches through Apache Livy (plain Livy as on EMR, HDInsight or
 * on-prem: kind "livy") and through Azure Synapse's Livy dialect (kind
 * "synapse"). One implementation, two ops tables; see livy.c.
 */
#ifndef JOBFS_LIVY_H
#define JOBFS_LIVY_H

#include "platform_ops.h"

extern const struct platform_ops livy_platform;
extern const struct platform_ops synapse_platform;

#endif
