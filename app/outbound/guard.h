/* guard.h: outbound numbers normalized to E.164 and screened for toll fraud. */
#ifndef APP_OUTBOUND_GUARD_H
#define APP_OUTBOUND_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Nothing here does I/O, allocates or keeps state: a number typed by an
 * operator or imported from a lead is first normalized against the
 * campaign's numbering plan, then checked against the campaign's policy.
 * Every refusal carries a verdict that names the reason, so that the API
 * can answer with a clear 4xx error and the log can say why.
 */

/* E.164 allows at most 15 digits, country code included. */
#define GUARD_E164_MAX 15
/* Room for any normalized number: '+', 15 digits and the NUL. */
#define GUARD_NUMBER_SIZE (GUARD_E164_MAX + 2)
/* Characters of raw input looked at; longer input is refused unread. */
#define GUARD_INPUT_MAX 64
/* Numbers with fewer digits after the country code are emergency or short
 * service numbers (911, 112, 118 118), never dialed from a campaign. */
#define GUARD_SUBSCRIBER_MIN 7

/*
 * A national numbering plan: how the people of one country write their
 * numbers. Examples:
 *   NANP:     {"1", "1", "011", 10, 10}  (1-212-555-0100, 212 555 0100)
 *   UK:       {"44", "0", "00", 9, 10}   (020 7946 0018)
 *   Colombia: {"57", "", "00", 10, 10}   (601 234 5678, 310 234 5678)
 * A leading trunk prefix is always dropped, which is unambiguous because no
 * plan starts its national numbers with its own trunk prefix. The
 * international prefix "00" recommended by ITU-T E.164 is accepted in every
 * plan, in addition to the plan's own.
 */
struct guard_plan {
	/* Digits, e.g. "1", "44", "57". */
	const char *country_code;
	/* Dialled before national numbers, e.g. "0"; NULL or "": none. */
	const char *trunk_prefix;
	/* Dialled before a country code, e.g. "011"; NULL: "00". */
	const char *intl_prefix;
	/* Digits of a national significant number, trunk prefix excluded. */
	unsigned national_min, national_max;
};

/*
 * A campaign's policy. The allowed-prefix list narrows what may be dialed;
 * the two flags widen it: a number must pass every check, so "+44" in the
 * list does not by itself allow international calls.
 */
struct guard_policy {
	/* The campaign's home plan (borrowed). NULL: no home, so every number
	 * counts as international. */
	const struct guard_plan *plan;
	/* Borrowed array of "+<digits>" or "<digits>" prefixes (spaces, dashes,
	 * dots and parentheses ignored); an entry with no digits matches
	 * nothing. An empty list (count 0) allows any number. */
	const char *const *allowed_prefixes;
	size_t allowed_count;
	bool allow_international;
	bool allow_premium;
};

/*
 * Why a number was refused. Normalizing gives the first group, checking the
 * second; outbound_guard_check() runs its checks in the order of this enum
 * and reports the first that fails, so a premium number abroad reads
 * "premium".
 */
enum guard_verdict {
	GUARD_ALLOWED = 0,
	/* outbound_guard_normalize() */
	GUARD_EMPTY,         /* no digits at all */
	GUARD_LETTERS,       /* letters (vanity numbers are not spelled out) */
	GUARD_BAD_CHARACTER, /* anything else that is not a separator */
	GUARD_TOO_SHORT,     /* fewer digits than the plan allows */
	GUARD_TOO_LONG,      /* more than the plan or E.164 allows */
	GUARD_BAD_COUNTRY_CODE, /* "+0...": no country code starts with 0 */
	GUARD_NO_PLAN,          /* national form, but no plan to read it */
	/* outbound_guard_check() */
	GUARD_NOT_E164,           /* the input was not "+<1..15 digits>" */
	GUARD_SHORT_NUMBER,       /* emergency or short service number */
	GUARD_PREMIUM,            /* premium-rate range, not allowed */
	GUARD_INTERNATIONAL,      /* outside the home plan, not allowed */
	GUARD_PREFIX_NOT_ALLOWED, /* matches no allowed prefix */
	GUARD_VERDICT__COUNT,
};

/*
 * Normalizes input (NUL-terminated, at most GUARD_INPUT_MAX characters) into
 * "+<digits>" in out. Accepted forms: "+<country code><number>", the plan's
 * international prefix followed by the same, and national numbers with or
 * without the plan's trunk prefix. Spaces, tabs, dashes, dots and
 * parentheses are ignored anywhere; '+' only before the first digit.
 * plan may be NULL, in which case only the international forms (with "00")
 * are accepted.
 * Returns the length written (NUL excluded), -EINVAL when the input is not a
 * number (the reason in *verdict), or -ENOBUFS when size is too small (at
 * most GUARD_NUMBER_SIZE is ever needed). out is untouched on failure.
 * *verdict, when verdict is not NULL, is set on every return: GUARD_ALLOWED
 * on success and for -ENOBUFS.
 */
int outbound_guard_normalize(const struct guard_plan *plan, const char *input,
			     char *out, size_t size,
			     enum guard_verdict *verdict);

/*
 * Checks a normalized number (as outbound_guard_normalize() writes it)
 * against the policy: not an emergency or short number, not premium-rate
 * (built-in table of national numbering plans, plus the international
 * premium and satellite codes) unless allow_premium, not international
 * unless allow_international, and starting with one of the allowed
 * prefixes. Returns GUARD_ALLOWED or the first check that failed;
 * GUARD_NOT_E164 when e164 is not normalized (or policy is NULL).
 */
enum guard_verdict outbound_guard_check(const struct guard_policy *policy,
					const char *e164);

/*
 * The one gate of every number that leaves through the trunk, whatever the
 * path (a placed call, a transfer): normalizes input with plan and checks
 * it against policy. Returns GUARD_ALLOWED with the E.164 number in out
 * (size at least GUARD_NUMBER_SIZE), or the verdict that refused it (out
 * then holds ""). plan and policy may not be NULL.
 */
enum guard_verdict outbound_guard_screen(const struct guard_plan *plan,
					 const struct guard_policy *policy,
					 const char *input, char *out,
					 size_t size);

/* An operator-readable sentence for verdict (static, ends with a period);
 * a generic sentence for values out of range. */
const char *outbound_guard_verdict_text(enum guard_verdict verdict);

/* A stable snake_case code for verdict, for API error bodies and logs
 * (static; "unknown" for values out of range). */
const char *outbound_guard_verdict_name(enum guard_verdict verdict);

/*
 * Length of the country code that starts digits (ITU-T E.164 assignments:
 * 1 for zones 1 and 7, 2 or 3 elsewhere). Returns 1, 2 or 3, or 0 when
 * digits starts with 0, with a non-digit, or is empty.
 */
unsigned outbound_guard_country_code_len(const char *digits);

#endif /* APP_OUTBOUND_GUARD_H */
