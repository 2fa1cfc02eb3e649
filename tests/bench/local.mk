# Benchmark programs (scripts/bench runs them; see tests/bench/bench.py).
# Built by `make`, never run by `make check`.
noinst_PROGRAMS += tests/bench/statusloop tests/bench/spawnloop \
	tests/bench/staticfs tests/bench/passthrough
tests_bench_statusloop_SOURCES = %D%/statusloop.c
tests_bench_spawnloop_SOURCES = %D%/spawnloop.c
tests_bench_staticfs_SOURCES = %D%/staticfs.c
tests_bench_staticfs_LDADD = $(FUSE_LIBS)
tests_bench_passthrough_SOURCES = %D%/passthrough.c
tests_bench_passthrough_LDADD = $(FUSE_LIBS)
EXTRA_DIST += %D%/bench.py %D%/livybench.py %D%/NOTES.md
