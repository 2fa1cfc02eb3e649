# One file per platform; platform.c's registry lists their ops tables.
PLATFORM_SOURCES = \
	%D%/platform_ops.h \
	%D%/local.c %D%/local.h
