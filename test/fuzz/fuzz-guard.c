/* fuzz-guard.c: libFuzzer harness for the toll-fraud guard: any text as a
 * number, under each numbering plan and policy of a small table, checked
 * for the guard's own promises (allowed means E.164 in a plan's country,
 * never premium or short). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs longer than the guard reads are refused unread: a little past the
 * cap is enough to cover that. */
#define FUZZ_INPUT_MAX (GUARD_INPUT_MAX + 8)

static const struct guard_plan plans[] = {
    {"1", "1", "011", 10, 10},  {"44", "0", NULL, 9, 10},
    {"57", NULL, NULL, 10, 10}, {"0", "0", NULL, 9, 10},
    {"49", "0", "00", 4, 14},
};
static const char *const prefixes[] = {"+1", "+57 3", "", "+", "5x7"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char input[FUZZ_INPUT_MAX + 1], out[GUARD_NUMBER_SIZE];
	const struct guard_plan *plan;
	struct guard_policy policy = {0};
	enum guard_verdict v;
	unsigned sel;

	if (size < 1 || size - 1 > FUZZ_INPUT_MAX)
		return 0;
	sel = data[0];
	memcpy(input, data + 1, size - 1);
	input[size - 1] = '\0';
	plan = &plans[sel % (sizeof(plans) / sizeof(*plans))];
	policy.plan = sel & 0x80 ? NULL : plan;
	policy.allow_international = sel & 0x40;
	policy.allow_premium = sel & 0x20;
	policy.allowed_prefixes = prefixes;
	policy.allowed_count =
	    sel & 0x10 ? sizeof(prefixes) / sizeof(*prefixes) : 0;
	v = outbound_guard_screen(plan, &policy, input, out, sizeof(out));
	if (v == GUARD_ALLOWED) {
		/* What the screen lets through is E.164 and passes the
		 * check again: the gate is idempotent. */
		if (out[0] != '+' || strlen(out) > GUARD_E164_MAX + 1 ||
		    outbound_guard_check(&policy, out) != GUARD_ALLOWED)
			abort();
	} else if (out[0] != '\0') {
		abort();
	}
	(void)outbound_guard_check(&policy, input);
	(void)outbound_guard_country_code_len(input);
	(void)outbound_guard_verdict_text(v);
	(void)outbound_guard_verdict_name(v);
	return 0;
}
