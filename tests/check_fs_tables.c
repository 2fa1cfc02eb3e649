/*
 * The FUSE layer's tables on their own: the inode table (node.h), open
 * file handles (handle.h) and parked waiters (waiters.h).
 *
 * The waiters answer FUSE requests. This program defines the five libfuse
 * calls they make (an executable's definitions take precedence over the
 * shared library's), so a "request" is a struct fake_req that records the
 * reply it got and the interrupt callback it was given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "handle.h"
#include "node.h"
#include "waiters.h"

/* --- libfuse, as the waiters see it ------------------------------------ */

struct fake_req {
	int replies; /* how many replies it got: more than one is a bug */
	int err;     /* errno of a fuse_reply_err, 0 for a buffer */
	char buf[64];
	fuse_interrupt_func_t on_interrupt;
	void *interrupt_data;
	/* run inside fuse_req_interrupt_func, as libfuse's own thread may */
	void (*during_register)(struct fake_req *req);
};

struct fake_poll {
	int notified;
	int destroyed;
};

static struct waiters *current_waiters; /* for during_register hooks */

int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	struct fake_req *r = (struct fake_req *)req;
	r->replies++;
	r->err = 0;
	snprintf(r->buf, sizeof(r->buf), "%.*s", (int)size, buf);
	return 0;
}

int fuse_reply_err(fuse_req_t req, int err)
{
	struct fake_req *r = (struct fake_req *)req;
	r->replies++;
	r->err = err;
	return 0;
}

void fuse_req_interrupt_func(fuse_req_t req, fuse_interrupt_func_t func,
			     void *data)
{
	struct fake_req *r = (struct fake_req *)req;
	r->on_interrupt = func;
	r->interrupt_data = data;
	if (r->during_register)
		r->during_register(r);
}

int fuse_lowlevel_notify_poll(struct fuse_pollhandle *ph)
{
	((struct fake_poll *)ph)->notified++;
	return 0;
}

void fuse_pollhandle_destroy(struct fuse_pollhandle *ph)
{
	((struct fake_poll *)ph)->destroyed++;
}

static fuse_req_t as_req(struct fake_req *r)
{
	return (fuse_req_t)r;
}

static struct fuse_pollhandle *as_ph(struct fake_poll *p)
{
	return (struct fuse_pollhandle *)p;
}

static void interrupt(struct fake_req *r)
{
	ck_assert_ptr_nonnull(r->on_interrupt);
	r->on_interrupt(as_req(r), r->interrupt_data);
}

/* --- the inode table -------------------------------------------------- */

START_TEST(test_root_is_fuse_root)
{
	struct nodes *ns;
	ck_assert_int_eq(nodes_new(&ns), 0);
	struct node *root = nodes_root(ns);
	ck_assert_uint_eq(node_ino(root), FUSE_ROOT_ID);
	ck_assert_ptr_eq(nodes_from_ino(ns, FUSE_ROOT_ID), root);
	nodes_forget(ns, root, 100); /* the root is never freed */
	ck_assert_ptr_eq(nodes_root(ns), root);
	nodes_free(ns);
}
END_TEST

START_TEST(test_lookup_counts_and_forget_frees)
{
	struct nodes *ns;
	ck_assert_int_eq(nodes_new(&ns), 0);
	struct node *root = nodes_root(ns);
	struct node *a = nodes_lookup(ns, root, "etl", NODE_JOB, 0, 0, "etl");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->job, "etl");
	ck_assert_ptr_eq(nodes_from_ino(ns, node_ino(a)), a);
	ck_assert_ptr_eq(nodes_lookup(ns, root, "etl", NODE_JOB, 0, 0, "etl"),
			 a);
	ck_assert_uint_eq(a->nlookup, 2);
	fuse_ino_t ino;
	nodes_forget(ns, a, 1);
	ck_assert(nodes_known(ns, root, "etl", &ino));
	ck_assert_uint_eq(ino, node_ino(a));
	nodes_forget(ns, a, 1);
	ck_assert(!nodes_known(ns, root, "etl", &ino));
	nodes_free(ns);
}
END_TEST

START_TEST(test_a_name_of_another_kind_is_a_new_node)
{
	struct nodes *ns;
	ck_assert_int_eq(nodes_new(&ns), 0);
	struct node *root = nodes_root(ns);
	struct node *old = nodes_lookup(ns, root, "x", NODE_JOB, 0, 0, "x");
	uint64_t generation = old->generation;
	struct node *now = nodes_lookup(ns, root, "x", NODE_STAGED, 0, 0, NULL);
	ck_assert_int_eq(now->kind, NODE_STAGED);
	ck_assert_uint_ne(now->generation, generation);
	fuse_ino_t ino;
	ck_assert(nodes_known(ns, root, "x", &ino));
	ck_assert_uint_eq(ino, node_ino(now));
	/* the old one lives on, detached, until the kernel forgets it */
	char path[64];
	ck_assert_int_eq(nodes_path(ns, old, NODE_ROOT, path, sizeof(path)),
			 -ENOENT);
	nodes_forget(ns, old, 1);
	nodes_forget(ns, now, 1);
	nodes_free(ns);
}
END_TEST

START_TEST(test_path_and_rename)
{
	struct nodes *ns;
	ck_assert_int_eq(nodes_new(&ns), 0);
	struct node *root = nodes_root(ns);
	struct node *nw = nodes_lookup(ns, root, "new", NODE_NEW, 0, 0, NULL);
	struct node *dir = nodes_lookup(ns, nw, "app", NODE_STAGED, 0, 0, NULL);
	struct node *f =
	    nodes_lookup(ns, dir, "main.py", NODE_STAGED, 0, 0, NULL);
	char path[64];
	ck_assert_int_eq(nodes_path(ns, f, NODE_NEW, path, sizeof(path)), 0);
	ck_assert_str_eq(path, "app/main.py");
	ck_assert_int_eq(nodes_path(ns, nw, NODE_NEW, path, sizeof(path)), 0);
	ck_assert_str_eq(path, "");
	char small[8];
	ck_assert_int_eq(nodes_path(ns, f, NODE_NEW, small, sizeof(small)),
			 -ENAMETOOLONG);

	nodes_rename(ns, nw, "app", nw, "etl");
	fuse_ino_t ino;
	ck_assert(!nodes_known(ns, nw, "app", &ino));
	ck_assert(nodes_known(ns, nw, "etl", &ino));
	ck_assert_uint_eq(ino, node_ino(dir));
	ck_assert_int_eq(nodes_path(ns, f, NODE_NEW, path, sizeof(path)), 0);
	ck_assert_str_eq(path, "etl/main.py");
	nodes_free(ns);
}
END_TEST

START_TEST(test_many_names)
{
	enum { N = 20000 };
	struct nodes *ns;
	ck_assert_int_eq(nodes_new(&ns), 0);
	struct node *root = nodes_root(ns);
	static struct node *made[N];
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "job%d", i);
		made[i] = nodes_lookup(ns, root, name, NODE_JOB, 0, 0, name);
		ck_assert_ptr_nonnull(made[i]);
	}
	for (int i = 0; i < N; i++) {
		fuse_ino_t ino;
		snprintf(name, sizeof(name), "job%d", i);
		ck_assert(nodes_known(ns, root, name, &ino));
		ck_assert_uint_eq(ino, node_ino(made[i]));
	}
	for (int i = 0; i < N; i += 2)
		nodes_forget(ns, made[i], 1);
	for (int i = 0; i < N; i++) {
		fuse_ino_t ino;
		snprintf(name, sizeof(name), "job%d", i);
		ck_assert(nodes_known(ns, root, name, &ino) == (i % 2 == 1));
	}
	nodes_free(ns);
}
END_TEST

/* --- open file handles ------------------------------------------------ */

START_TEST(test_handle_ids_are_never_reused)
{
	struct handles *hs;
	ck_assert_int_eq(handles_new(&hs), 0);
	uint64_t first = handles_add(hs, handle_new(NULL));
	handles_remove(hs, first);
	uint64_t second = handles_add(hs, handle_new(NULL));
	ck_assert_uint_ne(first, second);
	ck_assert_ptr_null(handles_get(hs, first));
	struct handle *h = handles_get(hs, second);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->id, second);
	handles_put(hs, h);
	handles_free(hs); /* frees what is still open */
}
END_TEST

START_TEST(test_release_during_a_read_frees_after_it)
{
	struct handles *hs;
	ck_assert_int_eq(handles_new(&hs), 0);
	struct handle *h = handle_new(NULL);
	h->buf = strdup("RUNNING\n");
	h->len = 8;
	uint64_t id = handles_add(hs, h);
	struct handle *reading = handles_get(hs, id); /* a READ in flight */
	handles_remove(hs, id);			      /* RELEASE overtakes it */
	ck_assert_ptr_null(handles_get(hs, id));
	/* still the reader's: ASan would report a use after free here */
	ck_assert_str_eq(reading->buf, "RUNNING\n");
	handles_put(hs, reading); /* the last reference frees it */
	handles_free(hs);
}
END_TEST

/* --- parked waiters --------------------------------------------------- */

START_TEST(test_wake_answers_its_runs_readers)
{
	struct waiters *w;
	ck_assert_int_eq(waiters_new(&w), 0);
	struct fake_req a = {0}, b = {0}, other = {0};
	ck_assert_int_eq(waiters_park(w, as_req(&a), 7, 4096, 0), 0);
	ck_assert_int_eq(waiters_park(w, as_req(&b), 7, 5, 3), 0);
	ck_assert_int_eq(waiters_park(w, as_req(&other), 8, 4096, 0), 0);
	ck_assert_uint_eq(waiters_parked(w), 3);
	ck_assert_int_eq(a.replies + b.replies + other.replies, 0);

	waiters_wake(w, 7, "SUCCEEDED\n");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_str_eq(a.buf, "SUCCEEDED\n");
	ck_assert_int_eq(b.replies, 1);
	ck_assert_str_eq(b.buf, "CEEDE"); /* sliced by offset and size */
	ck_assert_int_eq(other.replies, 0);
	ck_assert_uint_eq(waiters_parked(w), 1);

	waiters_wake(w, 7, "again\n"); /* nobody left for run 7 */
	ck_assert_int_eq(a.replies, 1);
	waiters_free(w); /* the last one is ended with EINTR */
	ck_assert_int_eq(other.replies, 1);
	ck_assert_int_eq(other.err, EINTR);
}
END_TEST

START_TEST(test_interrupt_ends_one_read)
{
	struct waiters *w;
	ck_assert_int_eq(waiters_new(&w), 0);
	struct fake_req a = {0}, b = {0};
	waiters_park(w, as_req(&a), 1, 100, 0);
	waiters_park(w, as_req(&b), 1, 100, 0);
	interrupt(&a);
	ck_assert_int_eq(a.replies, 1);
	ck_assert_int_eq(a.err, EINTR);
	ck_assert_uint_eq(waiters_parked(w), 1);
	waiters_wake(w, 1, "FAILED\n");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_int_eq(b.replies, 1);
	ck_assert_str_eq(b.buf, "FAILED\n");
	waiters_free(w);
}
END_TEST

static void interrupt_now(struct fake_req *r)
{
	interrupt(r);
}

static void wake_now(struct fake_req *r)
{
	waiters_wake(current_waiters, 3, "CANCELLED\n");
}

START_TEST(test_interrupt_while_registering_replies_once)
{
	struct waiters *w;
	ck_assert_int_eq(waiters_new(&w), 0);
	struct fake_req a = {.during_register = interrupt_now};
	waiters_park(w, as_req(&a), 3, 100, 0);
	ck_assert_int_eq(a.replies, 1);
	ck_assert_int_eq(a.err, EINTR);
	ck_assert_uint_eq(waiters_parked(w), 0);
	waiters_free(w);
	ck_assert_int_eq(a.replies, 1);
}
END_TEST

START_TEST(test_wake_while_registering_is_not_lost)
{
	struct waiters *w;
	ck_assert_int_eq(waiters_new(&w), 0);
	current_waiters = w;
	struct fake_req a = {.during_register = wake_now};
	waiters_park(w, as_req(&a), 3, 100, 0);
	ck_assert_int_eq(a.replies, 1);
	ck_assert_str_eq(a.buf, "CANCELLED\n");
	ck_assert_uint_eq(waiters_parked(w), 0);
	waiters_free(w);
	current_waiters = NULL;
}
END_TEST

START_TEST(test_poll_handles)
{
	struct waiters *w;
	ck_assert_int_eq(waiters_new(&w), 0);
	int owner_a, owner_b, owner_c;
	struct fake_poll first = {0}, second = {0}, other = {0}, closed = {0};
	waiters_poll_keep(w, &owner_a, "etl", as_ph(&first));
	waiters_poll_keep(w, &owner_a, "etl", as_ph(&second)); /* replaces */
	ck_assert_int_eq(first.destroyed, 1);
	ck_assert_int_eq(first.notified, 0);
	waiters_poll_keep(w, &owner_b, "other", as_ph(&other));
	waiters_poll_keep(w, &owner_c, "etl", as_ph(&closed));
	waiters_poll_forget(w, &owner_c); /* its file was closed */
	ck_assert_int_eq(closed.destroyed, 1);
	ck_assert_int_eq(closed.notified, 0);

	waiters_poll_notify(w, "etl");
	ck_assert_int_eq(second.notified, 1);
	ck_assert_int_eq(second.destroyed, 1);
	ck_assert_int_eq(other.notified, 0);
	waiters_poll_notify(w, "etl"); /* each handle is notified once */
	ck_assert_int_eq(second.notified, 1);
	waiters_free(w);
	ck_assert_int_eq(other.destroyed, 1);
	ck_assert_int_eq(other.notified, 0);
}
END_TEST

static Suite *fs_tables_suite(void)
{
	Suite *s = suite_create("fs_tables");
	TCase *nodes = tcase_create("nodes");
	tcase_add_test(nodes, test_root_is_fuse_root);
	tcase_add_test(nodes, test_lookup_counts_and_forget_frees);
	tcase_add_test(nodes, test_a_name_of_another_kind_is_a_new_node);
	tcase_add_test(nodes, test_path_and_rename);
	tcase_add_test(nodes, test_many_names);
	suite_add_tcase(s, nodes);
	TCase *handles = tcase_create("handles");
	tcase_add_test(handles, test_handle_ids_are_never_reused);
	tcase_add_test(handles, test_release_during_a_read_frees_after_it);
	suite_add_tcase(s, handles);
	TCase *waiters = tcase_create("waiters");
	tcase_add_test(waiters, test_wake_answers_its_runs_readers);
	tcase_add_test(waiters, test_interrupt_ends_one_read);
	tcase_add_test(waiters, test_interrupt_while_registering_replies_once);
	tcase_add_test(waiters, test_wake_while_registering_is_not_lost);
	tcase_add_test(waiters, test_poll_handles);
	suite_add_tcase(s, waiters);
	return s;
}

int main(void)
{
	return check_main_run(fs_tables_suite());
}
