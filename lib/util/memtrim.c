/* memtrim.c: see memtrim.h. */
#include "util/memtrim.h"

#include <malloc.h>

bool memtrim_due(struct memtrim *m, size_t free_bytes)
{
	if (free_bytes < m->baseline)
		m->baseline = free_bytes;
	if (free_bytes - m->baseline < MEMTRIM_GROWTH)
		return false;
	m->baseline = free_bytes;
	return true;
}

bool memtrim_check(struct memtrim *m)
{
	struct mallinfo2 mi = mallinfo2();

	if (!memtrim_due(m, mi.fordblks))
		return false;
	malloc_trim(0);
	m->trims++;
	return true;
}

static void on_timer(uv_timer_t *timer)
{
	memtrim_check(timer->data);
}

int memtrim_start(struct memtrim *m, uv_loop_t *loop, uint64_t period_ms)
{
	int r = uv_timer_init(loop, &m->timer);

	if (r < 0)
		return r;
	m->timer.data = m;
	m->started = true;
	uv_unref((uv_handle_t *)&m->timer);
	return uv_timer_start(&m->timer, on_timer, period_ms, period_ms);
}

void memtrim_close(struct memtrim *m)
{
	if (!m->started)
		return;
	m->started = false;
	uv_close((uv_handle_t *)&m->timer, NULL);
}
