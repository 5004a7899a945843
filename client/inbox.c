/*
 * The curl thread's inbox: streams with news for it (a new stream, request
 * bytes, the server's END, credit, a reset), queued by either thread under
 * client.mtx.
 *
 * The curl thread takes the whole queue at once, then takes the streams
 * off that batch one at a time, each under the mutex.  Until its turn a
 * stream counts as queued (in_inbox), so news for it meanwhile adds
 * nothing: it is looked at anyway.  Once off the batch it can be queued
 * again, in the new queue.  Neither thread ever follows or changes
 * inbox_next of a stream the other one holds.
 */
#include "config.h"

#include <stddef.h>

#include "tunnel-client.h"

/* Queue st for the curl thread, once. */
void
inbox_add_locked(struct stream *st)
{
	if (st->in_inbox)
		return;
	st->in_inbox = true;
	st->inbox_next = NULL;
	if (client.inbox_tail != NULL)
		client.inbox_tail->inbox_next = st;
	else
		client.inbox_head = st;
	client.inbox_tail = st;
}

/* The whole queue, as a batch for inbox_next_locked(); the queue is empty. */
struct stream *
inbox_take_locked(void)
{
	struct stream	*batch = client.inbox_head;

	client.inbox_head = client.inbox_tail = NULL;
	return batch;
}

/* The first stream of the batch, off it and no longer queued; or NULL. */
struct stream *
inbox_next_locked(struct stream **batch)
{
	struct stream	*st;

	if ((st = *batch) == NULL)
		return NULL;
	*batch = st->inbox_next;
	st->inbox_next = NULL;
	st->in_inbox = false;
	return st;
}
