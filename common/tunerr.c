#include "config.h"

#include "tunerr.h"

const char *
tunerr_str(int r)
{
	switch (r) {
	case TUN_OK:		return "success";
	case TUN_ENOMEM:	return "out of memory";
	case TUN_EPROTO:	return "protocol error";
	case TUN_ETOOBIG:	return "too large";
	case TUN_EAGAIN:	return "try again";
	case TUN_ECLOSED:	return "closed";
	case TUN_EINVAL:	return "invalid value";
	case TUN_EIO:		return "I/O error";
	case TUN_ENOENT:	return "not found";
	case TUN_EEXIST:	return "already exists";
	case TUN_EPERM:		return "not permitted";
	case TUN_ETIMEDOUT:	return "timed out";
	case TUN_ELIMIT:	return "limit reached";
	case TUN_EDENIED:	return "denied";
	}
	return "unknown error";
}
