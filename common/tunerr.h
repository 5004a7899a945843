/* Error codes shared by tunneld and tunnel-client: 0 or a negative TUN_E*. */
#ifndef TUNERR_H
#define TUNERR_H

#define TUN_OK		 0
#define TUN_ENOMEM	-1	/* out of memory */
#define TUN_EPROTO	-2	/* peer broke the protocol */
#define TUN_ETOOBIG	-3	/* over a configured ceiling */
#define TUN_EAGAIN	-4	/* try again later (would block, no credit) */
#define TUN_ECLOSED	-5	/* the other side has gone */
#define TUN_EINVAL	-6	/* bad argument or value */
#define TUN_EIO		-7	/* system call failed, errno has more */
#define TUN_ENOENT	-8	/* no such thing */
#define TUN_EEXIST	-9	/* already exists, or taken */
#define TUN_EPERM	-10	/* not allowed */
#define TUN_ETIMEDOUT	-11	/* timed out */
#define TUN_ELIMIT	-12	/* a count limit was reached */
#define TUN_EDENIED	-13	/* refused by the deny list */

const char	*tunerr_str(int);

#endif
