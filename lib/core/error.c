/* error.c: error codes and the message buffer every libdcc call fills. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dcc.h"

const char *dcc_strerror(int code)
{
	switch (code) {
	case DCC_OK: return "success";
	case DCC_E_NOMEM: return "out of memory";
	case DCC_E_IO: return "input/output error";
	case DCC_E_FORMAT: return "malformed file";
	case DCC_E_VERSION: return "unsupported version";
	case DCC_E_TRUNCATED: return "truncated";
	case DCC_E_CHECKSUM: return "checksum mismatch";
	case DCC_E_RANGE: return "value out of range";
	case DCC_E_UNSUPPORTED: return "unsupported";
	case DCC_E_NOTFOUND: return "not found";
	case DCC_E_ARG: return "invalid argument";
	case DCC_E_SHAPE: return "shape mismatch";
	case DCC_E_EXISTS: return "refusing to overwrite";
	}
	return "unknown error";
}

int dcc_fail(dcc_error *err, int code, const char *fmt, ...)
{
	if (err) {
		/* Format into a copy: callers may pass err->msg as an argument
		 * to prefix context to an earlier message. */
		char buf[DCC_ERR_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		err->code = code;
		memcpy(err->msg, buf, sizeof(buf));
		/* Messages quote names taken from files: keep them one printable
		 * line whatever those bytes are. */
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return code;
}
