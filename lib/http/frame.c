/* frame.c: WebSocket frames (RFC 6455) as a server reads and writes them. */
#include "http/frame.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24u /* base64 of 16 bytes */

static bool op_known(unsigned op)
{
	return op <= HTTP_FRAME_BINARY ||
	       (op >= HTTP_FRAME_CLOSE && op <= HTTP_FRAME_PONG);
}

long http_frame_parse(unsigned char *buf, size_t len, size_t max,
		      struct http_frame *ret)
{
	size_t hlen = 2, plen;
	unsigned char *mask;
	unsigned op;

	if (len < 2)
		return 0;
	op = buf[0] & 0x0f;
	if ((buf[0] & 0x70) || !(buf[1] & 0x80) || !op_known(op))
		return -HTTP_FRAME_CLOSE_PROTOCOL;
	plen = buf[1] & 0x7f;
	if (op >= HTTP_FRAME_CLOSE &&
	    (plen > HTTP_FRAME_MAX_CONTROL || !(buf[0] & 0x80)))
		return -HTTP_FRAME_CLOSE_PROTOCOL;
	if (plen == 126) {
		hlen = 4;
		if (len < hlen)
			return 0;
		plen = (size_t)buf[2] << 8 | buf[3];
	} else if (plen == 127) {
		uint64_t l = 0;

		hlen = 10;
		if (len < hlen)
			return 0;
		for (int i = 2; i < 10; i++)
			l = l << 8 | buf[i];
		if (l > max)
			return -HTTP_FRAME_CLOSE_TOO_BIG;
		plen = (size_t)l;
	}
	if (plen > max)
		return -HTTP_FRAME_CLOSE_TOO_BIG;
	if (len < hlen + 4 + plen)
		return 0;
	mask = buf + hlen;
	for (size_t i = 0; i < plen; i++)
		buf[hlen + 4 + i] ^= mask[i & 3];
	ret->fin = buf[0] & 0x80;
	ret->opcode = (enum http_frame_op)op;
	ret->payload = buf + hlen + 4;
	ret->len = plen;
	return (long)(hlen + 4 + plen);
}

size_t http_frame_header(unsigned char *out, enum http_frame_op op, size_t len)
{
	out[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		out[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

size_t http_frame_close(unsigned char *out, int code, const char *reason)
{
	size_t rlen = strnlen(reason, HTTP_FRAME_MAX_REASON);
	size_t n = http_frame_header(out, HTTP_FRAME_CLOSE, rlen + 2);

	out[n] = (unsigned char)(code >> 8);
	out[n + 1] = (unsigned char)code;
	memcpy(out + n + 2, reason, rlen);
	return n + 2 + rlen;
}

int http_frame_close_code(const unsigned char *payload, size_t len)
{
	if (len < 2)
		return HTTP_FRAME_CLOSE_NORMAL;
	return payload[0] << 8 | payload[1];
}

int http_frame_accept(const char *key, char *out)
{
	unsigned char raw[WS_KEY_LEN], md[SHA_DIGEST_LENGTH];
	char cat[WS_KEY_LEN + sizeof(WS_GUID)];

	if (strlen(key) != WS_KEY_LEN || strcmp(key + 22, "==") != 0 ||
	    EVP_DecodeBlock(raw, (const unsigned char *)key, WS_KEY_LEN) != 18)
		return -EINVAL;
	snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)cat, strlen(cat), md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}
