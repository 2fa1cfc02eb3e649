# One file per platform; platform.c's registry lists their ops tables.
PLATFORM_SOURCES = \
	%D%/platform_ops.h \
	%D%/program.c %D%/program.h \
	%D%/local.c %D%/local.h %D%/local_run.h \
	%D%/local_supervisor.c %D%/local_spawn.c \
	%D%/slurm.c %D%/slurm.h %D%/slurm_wire.c %D%/slurm_wire.h \
	%D%/livy.c %D%/livy.h %D%/livy_wire.c %D%/livy_wire.h \
	%D%/spark.c %D%/spark.h %D%/spark_find.c %D%/spark_find.h \
	%D%/stepfunctions.c %D%/stepfunctions.h \
	%D%/stepfunctions_wire.c %D%/stepfunctions_wire.h \
	%D%/databricks.c %D%/databricks.h \
	%D%/databricks_wire.c %D%/databricks_wire.h \
	%D%/kubeconfig.c %D%/kubeconfig.h \
	%D%/kubernetes.c %D%/kubernetes.h \
	%D%/kubernetes_wire.c %D%/kubernetes_wire.h
