/* frame.h: WebSocket frames (RFC 6455) as a server reads and writes them,
 * and the opening handshake's accept key. */
#ifndef HTTP_FRAME_H
#define HTTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>

/* The longest header of a frame the server sends (unmasked). */
#define HTTP_FRAME_MAX_HEADER 10u
/* Control frames carry at most this much; a close reason 2 bytes less. */
#define HTTP_FRAME_MAX_CONTROL 125u
#define HTTP_FRAME_MAX_REASON 123u
/* Sec-WebSocket-Accept: base64 of a SHA-1. */
#define HTTP_FRAME_ACCEPT_LEN 28u

enum http_frame_op {
	HTTP_FRAME_CONT = 0x0,
	HTTP_FRAME_TEXT = 0x1,
	HTTP_FRAME_BINARY = 0x2,
	HTTP_FRAME_CLOSE = 0x8,
	HTTP_FRAME_PING = 0x9,
	HTTP_FRAME_PONG = 0xa,
};

/* Close codes the server sends for the peer's errors. */
#define HTTP_FRAME_CLOSE_NORMAL 1000
#define HTTP_FRAME_CLOSE_PROTOCOL 1002
#define HTTP_FRAME_CLOSE_TOO_BIG 1009
#define HTTP_FRAME_CLOSE_ERROR 1011

struct http_frame {
	bool fin;
	enum http_frame_op opcode;
	const unsigned char *payload; /* unmasked, in the parsed buffer */
	size_t len;
};

/*
 * Parses one client frame at the start of buf (len bytes) and unmasks its
 * payload in place. Returns the frame's length and fills *ret, 0 when
 * more bytes are needed, or the negated close code the peer earned:
 * -HTTP_FRAME_CLOSE_PROTOCOL for an unmasked frame, reserved bits, an
 * unknown opcode, or a control frame that is fragmented or longer than
 * HTTP_FRAME_MAX_CONTROL; -HTTP_FRAME_CLOSE_TOO_BIG for a payload longer
 * than max.
 */
long http_frame_parse(unsigned char *buf, size_t len, size_t max,
		      struct http_frame *ret);

/* Writes the header of a final, unmasked frame of len bytes into out (room
 * for HTTP_FRAME_MAX_HEADER); returns its length. */
size_t http_frame_header(unsigned char *out, enum http_frame_op op, size_t len);

/* Writes a whole close frame with code and reason (cut to
 * HTTP_FRAME_MAX_REASON bytes) into out (room for HTTP_FRAME_MAX_HEADER +
 * HTTP_FRAME_MAX_CONTROL); returns its length. */
size_t http_frame_close(unsigned char *out, int code, const char *reason);

/* The code of a close frame's payload; HTTP_FRAME_CLOSE_NORMAL when it has
 * none. */
int http_frame_close_code(const unsigned char *payload, size_t len);

/* Checks a Sec-WebSocket-Key (base64 of 16 bytes) and writes its
 * Sec-WebSocket-Accept, NUL-terminated, into out (room for
 * HTTP_FRAME_ACCEPT_LEN + 1). Returns 0 or -EINVAL. */
int http_frame_accept(const char *key, char *out);

#endif /* HTTP_FRAME_H */
