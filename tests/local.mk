# Unit tests (Check, TAP output) and mount tests (bash, TAP output).
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) \
	$(top_srcdir)/build-aux/tap-driver.sh
# the mount tests end in .test, which has its own driver variable
TEST_LOG_DRIVER = $(LOG_DRIVER)
AM_TESTS_ENVIRONMENT = \
	JOBFS_BIN='$(abs_top_builddir)/src/jobfs'; \
	JOBFS_TESTS='$(abs_top_srcdir)/tests'; \
	JOBFS_BUILD_TESTS='$(abs_top_builddir)/tests'; \
	JOBFS_TOP='$(abs_top_srcdir)'; \
	CK_TIMEOUT_MULTIPLIER=10; \
	export JOBFS_BIN JOBFS_TESTS JOBFS_BUILD_TESTS JOBFS_TOP CK_TIMEOUT_MULTIPLIER;

UNIT_TESTS = \
	tests/check_state \
	tests/check_store \
	tests/check_jobconf \
	tests/check_config \
	tests/check_bundle \
	tests/check_local \
	tests/check_http \
	tests/check_secret \
	tests/check_artifact \
	tests/check_slurm \
	tests/check_job \
	tests/check_job_restart \
	tests/check_fs_tables \
	tests/check_ratelimit \
	tests/check_stepfunctions \
	tests/check_databricks \
	tests/check_kubernetes
check_PROGRAMS += $(UNIT_TESTS) tests/fs/pollwait
tests_fs_pollwait_SOURCES = tests/fs/pollwait.c
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	-DTESTS_SRCDIR='"$(abs_top_srcdir)/tests"'
TEST_LDADD = src/libjobfs.a $(JOBFS_LIBS) $(CHECK_LIBS)

tests_check_state_CFLAGS = $(TEST_CFLAGS)
tests_check_state_LDADD = $(TEST_LDADD)
tests_check_store_CFLAGS = $(TEST_CFLAGS)
tests_check_store_LDADD = $(TEST_LDADD)
tests_check_jobconf_CFLAGS = $(TEST_CFLAGS)
tests_check_jobconf_LDADD = $(TEST_LDADD)
tests_check_config_CFLAGS = $(TEST_CFLAGS)
tests_check_config_LDADD = $(TEST_LDADD)
tests_check_bundle_CFLAGS = $(TEST_CFLAGS)
tests_check_bundle_LDADD = $(TEST_LDADD)
tests_check_local_CFLAGS = $(TEST_CFLAGS)
tests_check_local_LDADD = $(TEST_LDADD)
tests_check_http_CFLAGS = $(TEST_CFLAGS)
tests_check_http_LDADD = $(TEST_LDADD)
tests_check_secret_CFLAGS = $(TEST_CFLAGS)
tests_check_secret_LDADD = $(TEST_LDADD)
tests_check_artifact_CFLAGS = $(TEST_CFLAGS)
tests_check_artifact_LDADD = $(TEST_LDADD)
tests_check_slurm_CFLAGS = $(TEST_CFLAGS)
tests_check_slurm_LDADD = $(TEST_LDADD)
JOB_HARNESS = tests/job_harness.c tests/job_harness.h \
	tests/fake_platform.c tests/fake_platform.h
tests_check_job_SOURCES = tests/check_job.c $(JOB_HARNESS)
tests_check_job_CFLAGS = $(TEST_CFLAGS)
tests_check_job_LDADD = $(TEST_LDADD)
tests_check_job_restart_SOURCES = tests/check_job_restart.c $(JOB_HARNESS)
tests_check_job_restart_CFLAGS = $(TEST_CFLAGS)
tests_check_job_restart_LDADD = $(TEST_LDADD)
tests_check_fs_tables_CFLAGS = $(TEST_CFLAGS)
tests_check_fs_tables_LDADD = $(TEST_LDADD)
tests_check_ratelimit_CFLAGS = $(TEST_CFLAGS)
tests_check_ratelimit_LDADD = $(TEST_LDADD)
tests_check_stepfunctions_CFLAGS = $(TEST_CFLAGS)
tests_check_stepfunctions_LDADD = $(TEST_LDADD)
tests_check_databricks_CFLAGS = $(TEST_CFLAGS)
tests_check_databricks_LDADD = $(TEST_LDADD)
tests_check_kubernetes_CFLAGS = $(TEST_CFLAGS)
tests_check_kubernetes_LDADD = $(TEST_LDADD)

MOUNT_TESTS = \
	tests/fs/deploy.test \
	tests/fs/lifecycle.test \
	tests/fs/errors.test \
	tests/fs/staging.test \
	tests/fs/restart.test \
	tests/fs/recovery.test \
	tests/fs/retention.test \
	tests/fs/limits.test \
	tests/fs/metrics.test \
	tests/fs/crash.test \
	tests/fs/waiters.test \
	tests/fs/manpage.test \
	tests/fs/slurm.test \
	tests/fs/spark.test \
	tests/fs/kubernetes.test \
	tests/fs/livy.test \
	tests/fs/synapse.test \
	tests/fs/stepfunctions.test \
	tests/fs/databricks.test \
	tests/fs/install.test \
	tests/fs/systemd.test

TESTS += $(UNIT_TESTS) $(MOUNT_TESTS)
EXTRA_DIST += $(MOUNT_TESTS) tests/fs/lib.sh tests/fs/emulators.sh \
	tests/emulator.h \
	tests/emulators/httptest.py tests/emulators/aad.py \
	tests/emulators/webhdfs.py tests/emulators/adls.py \
	tests/emulators/spark.py tests/emulators/livy.py \
	tests/emulators/emulator.py tests/emulators/stepfunctions.py \
	tests/emulators/emulator.py tests/emulators/databricks.py \
	tests/emulators/kubernetes.py \
	tests/services/slurm/start tests/services/slurm/stop \
	tests/services/slurm/slurm.conf.in
# included by every Check program
EXTRA_DIST += tests/check_main.h
