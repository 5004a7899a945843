/*
 * Unit tests for client/inbox.c, the hand-over of streams from the lws
 * thread to the curl thread: order, queueing once, and news for streams
 * of a batch that is being worked off (the lws thread queues them again
 * meanwhile), first step by step, then with two real threads.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "tunnel-client.h"

#define NBUSY		4		/* streams with news again and again */
#define NQUIET		4096		/* streams with news once (an OPEN) */
#define NSTREAMS	(NBUSY + NQUIET)

struct client	 client;		/* inbox.c's queue lives here */

static struct stream	*sts;
static unsigned		 news[NSTREAMS];	/* under client.mtx */
static unsigned		 seen[NSTREAMS];	/* news when taken off */
static bool		 producing;		/* under client.mtx */
static pthread_cond_t	 wake = PTHREAD_COND_INITIALIZER;
static unsigned		 lost;			/* news left unqueued */

static void	 setup(void);
static void	 teardown(void);
static struct stream *next_of(struct stream **);
static void	*producer(void *);
static bool	 drain_once(void);
static Suite	*inbox_suite(void);

static void
setup(void)
{
	size_t	i;

	memset(&client, 0, sizeof(client));
	pthread_mutex_init(&client.mtx, NULL);
	sts = calloc(NSTREAMS, sizeof(*sts));
	ck_assert_ptr_nonnull(sts);
	for (i = 0; i < NSTREAMS; i++)
		sts[i].id = (uint32_t)(2 * i + 1);
	memset(news, 0, sizeof(news));
	memset(seen, 0, sizeof(seen));
	lost = 0;
}

static void
teardown(void)
{
	pthread_mutex_destroy(&client.mtx);
	free(sts);
}

static struct stream *
next_of(struct stream **batch)
{
	struct stream	*st;

	pthread_mutex_lock(&client.mtx);
	st = inbox_next_locked(batch);
	pthread_mutex_unlock(&client.mtx);
	return st;
}

START_TEST(test_order)
{
	struct stream	*batch;
	size_t		 i;

	pthread_mutex_lock(&client.mtx);
	for (i = 0; i < 5; i++)
		inbox_add_locked(&sts[i]);
	inbox_add_locked(&sts[2]);		/* queued already: once */
	inbox_add_locked(&sts[0]);
	batch = inbox_take_locked();
	ck_assert_ptr_null(client.inbox_head);
	ck_assert_ptr_null(client.inbox_tail);
	pthread_mutex_unlock(&client.mtx);
	for (i = 0; i < 5; i++) {
		ck_assert(sts[i].in_inbox);	/* until its turn */
		ck_assert_ptr_eq(next_of(&batch), &sts[i]);
		ck_assert(!sts[i].in_inbox);
		ck_assert_ptr_null(sts[i].inbox_next);
	}
	ck_assert_ptr_null(next_of(&batch));
	ck_assert_ptr_null(batch);
	pthread_mutex_lock(&client.mtx);
	ck_assert_ptr_null(inbox_take_locked());
	pthread_mutex_unlock(&client.mtx);
}
END_TEST

/*
 * The lost-stream case: while the curl thread works on stream 0 of the
 * batch 0 1 2 3, the lws thread has news for 0 (done: queued anew), for 1
 * and 3 (still waiting in the batch) and a new stream 4.  Every one of
 * them must be looked at: 1 2 3 now, 0 and 4 in the next batch.
 */
START_TEST(test_news_during_batch)
{
	struct stream	*batch, *again;

	pthread_mutex_lock(&client.mtx);
	inbox_add_locked(&sts[0]);
	inbox_add_locked(&sts[1]);
	inbox_add_locked(&sts[2]);
	inbox_add_locked(&sts[3]);
	batch = inbox_take_locked();
	pthread_mutex_unlock(&client.mtx);

	ck_assert_ptr_eq(next_of(&batch), &sts[0]);
	pthread_mutex_lock(&client.mtx);	/* the lws thread */
	inbox_add_locked(&sts[0]);
	inbox_add_locked(&sts[1]);
	inbox_add_locked(&sts[3]);
	inbox_add_locked(&sts[4]);
	pthread_mutex_unlock(&client.mtx);

	ck_assert_ptr_eq(next_of(&batch), &sts[1]);
	ck_assert_ptr_eq(next_of(&batch), &sts[2]);
	ck_assert_ptr_eq(next_of(&batch), &sts[3]);
	ck_assert_ptr_null(next_of(&batch));

	pthread_mutex_lock(&client.mtx);
	again = inbox_take_locked();
	pthread_mutex_unlock(&client.mtx);
	ck_assert_ptr_eq(next_of(&again), &sts[0]);
	ck_assert_ptr_eq(next_of(&again), &sts[4]);
	ck_assert_ptr_null(next_of(&again));
}
END_TEST

/*
 * The lws thread: news for the busy streams all the time (DATA on open
 * streams) and now and then a quiet stream, queued once (a new OPEN): if
 * that one is lost, nothing ever queues it again.
 */
static void *
producer(void *arg)
{
	unsigned	i, j;

	(void)arg;
	for (i = 0; i < NQUIET * NBUSY; i++) {
		pthread_mutex_lock(&client.mtx);
		j = i % NBUSY;
		news[j]++;
		inbox_add_locked(&sts[j]);
		if (i % NBUSY == 0) {
			j = NBUSY + i / NBUSY;
			news[j]++;
			inbox_add_locked(&sts[j]);
		}
		pthread_cond_signal(&wake);	/* curl_multi_wakeup() */
		pthread_mutex_unlock(&client.mtx);
		if (i % 16 == 0)
			sched_yield();
	}
	pthread_mutex_lock(&client.mtx);
	producing = false;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&client.mtx);
	return NULL;
}

/*
 * The curl thread's turn: one batch; false once all is over.  After it,
 * every stream with news not seen yet must be queued: else it is lost.
 */
static bool
drain_once(void)
{
	const struct timespec	 work = { 0, 20000 };
	struct stream		*batch, *st;
	size_t			 i;
	bool			 more;

	pthread_mutex_lock(&client.mtx);
	while (producing && client.inbox_head == NULL)
		pthread_cond_wait(&wake, &client.mtx);	/* curl_multi_poll() */
	batch = inbox_take_locked();
	more = producing || batch != NULL;
	pthread_mutex_unlock(&client.mtx);
	for (;;) {
		pthread_mutex_lock(&client.mtx);
		if ((st = inbox_next_locked(&batch)) != NULL)
			seen[st->id / 2] = news[st->id / 2];
		pthread_mutex_unlock(&client.mtx);
		if (st == NULL)
			break;
		nanosleep(&work, NULL);	/* working on it: news may come */
	}
	pthread_mutex_lock(&client.mtx);
	for (i = 0; i < NSTREAMS; i++)
		if (seen[i] != news[i] && !sts[i].in_inbox)
			lost++;
	pthread_mutex_unlock(&client.mtx);
	return more;
}

START_TEST(test_two_threads)
{
	pthread_t	t;
	size_t		i;

	producing = true;
	ck_assert_int_eq(pthread_create(&t, NULL, producer, NULL), 0);
	while (drain_once())
		;
	pthread_join(t, NULL);
	ck_assert_uint_eq(lost, 0);
	for (i = 0; i < NSTREAMS; i++) {
		ck_assert_uint_eq(news[i], i < NBUSY ? NQUIET : 1);
		ck_assert_msg(seen[i] == news[i], "stream %u: news %u, seen "
		    "up to %u", sts[i].id, news[i], seen[i]);
		ck_assert(!sts[i].in_inbox);
	}
}
END_TEST

static Suite *
inbox_suite(void)
{
	Suite	*s = suite_create("inbox");
	TCase	*tc = tcase_create("inbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_news_during_batch);
	tcase_add_test(tc, test_two_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(inbox_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
