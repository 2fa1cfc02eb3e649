# systemd units, made from their .in files with the install dirs filled in
# (automake's advice: not at configure time, so `make bindir=...` works).
systemdsystemunit_DATA = %D%/jobfs.service
systemduserunit_DATA = %D%/jobfs@.service
EXTRA_DIST += %D%/jobfs.service.in %D%/jobfs@.service.in
CLEANFILES += $(systemdsystemunit_DATA) $(systemduserunit_DATA)

edit_unit = sed -e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

%D%/jobfs.service: %D%/jobfs.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(edit_unit) $(srcdir)/%D%/jobfs.service.in >$@.tmp && mv $@.tmp $@

%D%/jobfs@.service: %D%/jobfs@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(edit_unit) $(srcdir)/%D%/jobfs@.service.in >$@.tmp && mv $@.tmp $@

AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$$(prefix)/lib/systemd/system' \
	--with-systemduserunitdir='$$(prefix)/lib/systemd/user'
