/* eventref.h: the reference ARI event decoder the tests hold
 * ari_event_parse() to: the whole text through jansson
 * (JSON_REJECT_DUPLICATES), then each member read from the tree, as the
 * daemon decoded events before it read them in one pass. */
#ifndef TEST_EVENTREF_H
#define TEST_EVENTREF_H

#include <stddef.h>

#include "ari/event.h"

/*
 * Decodes len bytes of data with the reference and compares the result
 * with what ari_event_parse() made of them: r, and *ev when r is 0.
 * Returns NULL when they agree, else a static text naming the first
 * difference. One leniency: jansson skips a NUL byte that follows a
 * number, which the decoder refuses; for a text that holds a NUL byte the
 * decoder refusing is agreement.
 */
const char *eventref_check(const char *data, size_t len, int r,
			   const struct ari_event *ev);

#endif /* TEST_EVENTREF_H */
