/* guard.c: number normalization and the toll-fraud checks, over data tables. */
#include "outbound/guard.h"

#include <errno.h>
#include <string.h>

/*
 * Premium-rate ranges, as E.164 digits without the '+', from the national
 * numbering plans of the countries concerned, plus the ITU-T codes that are
 * billed at premium rates whatever the caller's country: 870 (Inmarsat), 881
 * (global mobile satellite), 882 and 883 (international networks) and 979
 * (international premium rate service). Adding a range is adding a row.
 */
static const char *const premium_ranges[] = {
    "1900",                    /* NANP: 900 pay-per-call */
    "1976",                    /* NANP: 976, the old pay-per-call code */
    "449",                     /* UK: 09 premium rate (090, 091, 098) */
    "3389",                    /* France: 089 surcharged services */
    "49900",                   /* Germany: 0900 premium rate */
    "49137",                   /* Germany: 0137 mass calling and televoting */
    "34803",                   /* Spain: 803, 806 and 807 premium rate */
    "34806", "34807", "34905", /* Spain: 905 mass calling */
    "57190",                   /* Colombia: 1-900 premium lines */
    "870",   "881",   "882",   "883", "979",
};

/*
 * Ranges that share a country code with a plan but are other countries,
 * billed as international calls: the NANP members other than the United
 * States, its territories and Canada (the area codes of one-ring scams).
 */
static const struct {
	const char *country_code;
	const char *range; /* digits after the country code */
} foreign_ranges[] = {
    {"1", "242"}, {"1", "246"}, {"1", "264"}, {"1", "268"}, {"1", "284"},
    {"1", "345"}, {"1", "441"}, {"1", "473"}, {"1", "649"}, {"1", "658"},
    {"1", "664"}, {"1", "721"}, {"1", "758"}, {"1", "767"}, {"1", "784"},
    {"1", "809"}, {"1", "829"}, {"1", "849"}, {"1", "868"}, {"1", "869"},
    {"1", "876"},
};

/*
 * Ranges that are never numbers of a plan, as patterns over the digits after
 * the country code, starting at an offset: 'N' is any digit 2 to 9, other
 * characters are themselves. In the NANP, the N11 codes (211, 311, ..., 911)
 * are service codes, never area codes nor exchange codes, so "1 911 555 1234"
 * is a way of dialing 911, not a subscriber's number.
 */
static const struct {
	const char *country_code;
	size_t offset;
	const char *pattern;
} service_ranges[] = {
    {"1", 0, "N11"}, /* NANP: N11 is never an area code */
    {"1", 3, "N11"}, /* NANP: nor an exchange code */
};

/* ITU-T E.164 two-digit country codes; zones 1 and 7 use one digit and
 * every other assigned code has three. */
static const char two_digit_codes[][3] = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
    "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
    "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
    "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
};

static const char *const verdict_texts[GUARD_VERDICT__COUNT] = {
    [GUARD_ALLOWED] = "The number is allowed.",
    [GUARD_EMPTY] = "The number is empty.",
    [GUARD_LETTERS] = "The number contains letters; give it in digits.",
    [GUARD_BAD_CHARACTER] =
	"The number contains a character other than digits, a leading '+', "
	"spaces, dashes, dots or parentheses.",
    [GUARD_TOO_SHORT] = "The number has too few digits.",
    [GUARD_TOO_LONG] =
	"The number has too many digits (E.164 allows at most 15).",
    [GUARD_BAD_COUNTRY_CODE] =
	"The number's country code starts with 0, which no country code does.",
    [GUARD_NO_PLAN] =
	"The number is in national form but the campaign has no numbering "
	"plan; give it as +<country code><number>.",
    [GUARD_NOT_E164] =
	"The number is not in E.164 form ('+' and at most 15 digits).",
    [GUARD_SHORT_NUMBER] =
	"Emergency and short service numbers cannot be dialed from a campaign.",
    [GUARD_PREMIUM] = "The number is in a premium-rate range, which this "
		      "campaign does not allow.",
    [GUARD_INTERNATIONAL] =
	"The number is international, which this campaign does not allow.",
    [GUARD_PREFIX_NOT_ALLOWED] =
	"The number does not start with any of the campaign's allowed "
	"prefixes.",
};

static const char *const verdict_names[GUARD_VERDICT__COUNT] = {
    [GUARD_ALLOWED] = "allowed",
    [GUARD_EMPTY] = "number_empty",
    [GUARD_LETTERS] = "number_letters",
    [GUARD_BAD_CHARACTER] = "number_bad_character",
    [GUARD_TOO_SHORT] = "number_too_short",
    [GUARD_TOO_LONG] = "number_too_long",
    [GUARD_BAD_COUNTRY_CODE] = "number_bad_country_code",
    [GUARD_NO_PLAN] = "number_no_plan",
    [GUARD_NOT_E164] = "number_not_e164",
    [GUARD_SHORT_NUMBER] = "number_short",
    [GUARD_PREMIUM] = "number_premium",
    [GUARD_INTERNATIONAL] = "number_international",
    [GUARD_PREFIX_NOT_ALLOWED] = "number_prefix_not_allowed",
};

/* The digits of a number, gathered from its input. */
struct digits {
	char d[GUARD_INPUT_MAX + 1];
	size_t n;
	bool plus;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' ||
	       c == ')';
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

unsigned outbound_guard_country_code_len(const char *digits)
{
	if (!digits || !is_digit(digits[0]) || digits[0] == '0')
		return 0;
	if (digits[0] == '1' || digits[0] == '7')
		return 1;
	for (size_t i = 0; i < sizeof(two_digit_codes) / 3; i++) {
		if (strncmp(digits, two_digit_codes[i], 2) == 0)
			return 2;
	}
	return 3;
}

/* Gathers the digits of input; returns GUARD_ALLOWED or why not. */
static enum guard_verdict gather(const char *input, struct digits *ret)
{
	struct digits g = {.n = 0, .plus = false};

	if (strnlen(input, GUARD_INPUT_MAX + 1) > GUARD_INPUT_MAX)
		return GUARD_TOO_LONG;
	for (const char *p = input; *p; p++) {
		if (is_digit(*p))
			g.d[g.n++] = *p;
		else if (*p == '+' && g.n == 0 && !g.plus)
			g.plus = true;
		else if (is_letter(*p))
			return GUARD_LETTERS;
		else if (!is_separator(*p))
			return GUARD_BAD_CHARACTER;
	}
	if (g.n == 0)
		return GUARD_EMPTY;
	g.d[g.n] = '\0';
	*ret = g;
	return GUARD_ALLOWED;
}

/* True when plan's country code is usable: 1 to 3 digits, a real code. */
static bool plan_usable(const struct guard_plan *plan)
{
	const char *cc = plan ? plan->country_code : NULL;

	return cc && outbound_guard_country_code_len(cc) == strlen(cc) &&
	       strspn(cc, "0123456789") == strlen(cc);
}

/* Whether a national significant number of n digits fits plan:
 * GUARD_ALLOWED, GUARD_TOO_SHORT or GUARD_TOO_LONG. */
static enum guard_verdict national_length(const struct guard_plan *plan,
					  size_t n)
{
	if (n < plan->national_min)
		return GUARD_TOO_SHORT;
	if (n > plan->national_max)
		return GUARD_TOO_LONG;
	return GUARD_ALLOWED;
}

/* Checks an international number d (no prefix); the home country's numbers
 * must also fit the plan's national lengths. */
static enum guard_verdict international(const struct guard_plan *plan,
					const char *d)
{
	size_t n = strlen(d);
	size_t ccl = outbound_guard_country_code_len(d);

	if (n == 0)
		return GUARD_TOO_SHORT;
	if (ccl == 0)
		return GUARD_BAD_COUNTRY_CODE;
	if (n > GUARD_E164_MAX)
		return GUARD_TOO_LONG;
	if (n <= ccl)
		return GUARD_TOO_SHORT;
	if (plan_usable(plan) && ccl == strlen(plan->country_code) &&
	    strncmp(d, plan->country_code, ccl) == 0)
		return national_length(plan, n - ccl);
	return GUARD_ALLOWED;
}

/* Finds the national significant number in d, read in plan's national form:
 * a leading trunk prefix is always dropped, because no plan starts its
 * national numbers with its own trunk prefix. Sets *ret_nsn on success. */
static enum guard_verdict national(const struct guard_plan *plan, const char *d,
				   const char **ret_nsn)
{
	const char *tp = plan->trunk_prefix ? plan->trunk_prefix : "";
	size_t n = strlen(d), tpl = strlen(tp);
	enum guard_verdict v;

	if (tpl > 0 && n > tpl && starts_with(d, tp)) {
		d += tpl;
		n -= tpl;
	}
	v = national_length(plan, n);
	if (v != GUARD_ALLOWED)
		return v;
	if (strlen(plan->country_code) + n > GUARD_E164_MAX)
		return GUARD_TOO_LONG;
	*ret_nsn = d;
	return GUARD_ALLOWED;
}

/* Turns gathered digits into country code and number; on success sets
 * *ret_cc (possibly "") and *ret_rest. */
static enum guard_verdict classify(const struct guard_plan *plan,
				   const struct digits *g, const char **ret_cc,
				   const char **ret_rest)
{
	const char *ip = plan && plan->intl_prefix ? plan->intl_prefix : "00";
	const char *d = g->d;
	enum guard_verdict v;

	if (!g->plus && *ip && starts_with(d, ip))
		d += strlen(ip);
	else if (!g->plus && starts_with(d, "00"))
		d += 2;
	else if (!g->plus) {
		if (!plan_usable(plan))
			return GUARD_NO_PLAN;
		v = national(plan, d, ret_rest);
		if (v == GUARD_ALLOWED)
			*ret_cc = plan->country_code;
		return v;
	}
	v = international(plan, d);
	if (v == GUARD_ALLOWED) {
		*ret_cc = "";
		*ret_rest = d;
	}
	return v;
}

int outbound_guard_normalize(const struct guard_plan *plan, const char *input,
			     char *out, size_t size,
			     enum guard_verdict *verdict)
{
	struct digits g;
	const char *cc = NULL, *rest = NULL;
	enum guard_verdict v = input ? gather(input, &g) : GUARD_EMPTY;
	size_t ccl, len;

	if (v == GUARD_ALLOWED)
		v = classify(plan, &g, &cc, &rest);
	if (verdict)
		*verdict = v;
	if (v != GUARD_ALLOWED)
		return -EINVAL;
	ccl = strlen(cc);
	len = 1 + ccl + strlen(rest);
	if (!out || size < len + 1)
		return -ENOBUFS;
	out[0] = '+';
	memcpy(out + 1, cc, ccl);
	strcpy(out + 1 + ccl, rest);
	return (int)len;
}

/* True when the E.164 digits d start with the allowed prefix p. */
static bool prefix_matches(const char *p, const char *d)
{
	size_t matched = 0;

	if (*p == '+')
		p++;
	for (; *p; p++) {
		if (is_separator(*p))
			continue;
		if (!is_digit(*p) || d[matched] != *p)
			return false;
		matched++;
	}
	return matched > 0;
}

static bool is_premium(const char *d)
{
	for (size_t i = 0; i < sizeof(premium_ranges) / sizeof(*premium_ranges);
	     i++) {
		if (starts_with(d, premium_ranges[i]))
			return true;
	}
	return false;
}

/* True when d (E.164 digits) is outside plan's country. */
static bool is_international(const struct guard_plan *plan, const char *d)
{
	const char *cc = plan_usable(plan) ? plan->country_code : NULL;
	size_t ccl = outbound_guard_country_code_len(d);

	if (!cc || ccl != strlen(cc) || strncmp(d, cc, ccl) != 0)
		return true;
	for (size_t i = 0; i < sizeof(foreign_ranges) / sizeof(*foreign_ranges);
	     i++) {
		if (strcmp(foreign_ranges[i].country_code, cc) == 0 &&
		    starts_with(d + ccl, foreign_ranges[i].range))
			return true;
	}
	return false;
}

/* True when the digits s start with pattern ('N' being 2 to 9). */
static bool pattern_matches(const char *pattern, const char *s)
{
	for (; *pattern; pattern++, s++) {
		if (*pattern == 'N' ? *s < '2' || *s > '9' : *s != *pattern)
			return false;
	}
	return true;
}

/* True when the E.164 digits d fall in one of the service ranges. */
static bool is_service_code(const char *d)
{
	size_t ccl = outbound_guard_country_code_len(d);
	const char *nsn = d + ccl;

	for (size_t i = 0; i < sizeof(service_ranges) / sizeof(*service_ranges);
	     i++) {
		const char *cc = service_ranges[i].country_code;

		if (ccl != strlen(cc) || strncmp(d, cc, ccl) != 0 ||
		    strlen(nsn) < service_ranges[i].offset)
			continue;
		if (pattern_matches(service_ranges[i].pattern,
				    nsn + service_ranges[i].offset))
			return true;
	}
	return false;
}

static bool is_allowed(const struct guard_policy *policy, const char *d)
{
	if (policy->allowed_count == 0)
		return true;
	for (size_t i = 0; i < policy->allowed_count; i++) {
		const char *p = policy->allowed_prefixes[i];

		if (p && prefix_matches(p, d))
			return true;
	}
	return false;
}

/* True when s is '+' then 1 to 15 digits, the first not 0. */
static bool is_e164(const char *s)
{
	size_t n;

	if (!s || s[0] != '+' || s[1] == '0')
		return false;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= GUARD_E164_MAX && s[1 + n] == '\0';
}

enum guard_verdict outbound_guard_screen(const struct guard_plan *plan,
					 const struct guard_policy *policy,
					 const char *input, char *out,
					 size_t size)
{
	enum guard_verdict v = GUARD_ALLOWED;

	if (size > 0)
		*out = '\0';
	if (size < GUARD_NUMBER_SIZE ||
	    outbound_guard_normalize(plan, input, out, size, &v) < 0)
		return v == GUARD_ALLOWED ? GUARD_NOT_E164 : v;
	v = outbound_guard_check(policy, out);
	if (v != GUARD_ALLOWED)
		*out = '\0';
	return v;
}

enum guard_verdict outbound_guard_check(const struct guard_policy *policy,
					const char *e164)
{
	const char *d;

	if (!policy || !is_e164(e164))
		return GUARD_NOT_E164;
	d = e164 + 1;
	if (strlen(d) <
		outbound_guard_country_code_len(d) + GUARD_SUBSCRIBER_MIN ||
	    is_service_code(d))
		return GUARD_SHORT_NUMBER;
	if (!policy->allow_premium && is_premium(d))
		return GUARD_PREMIUM;
	if (!policy->allow_international && is_international(policy->plan, d))
		return GUARD_INTERNATIONAL;
	if (!is_allowed(policy, d))
		return GUARD_PREFIX_NOT_ALLOWED;
	return GUARD_ALLOWED;
}

const char *outbound_guard_verdict_text(enum guard_verdict verdict)
{
	if ((unsigned)verdict >= GUARD_VERDICT__COUNT)
		return "The number was refused.";
	return verdict_texts[verdict];
}

const char *outbound_guard_verdict_name(enum guard_verdict verdict)
{
	if ((unsigned)verdict >= GUARD_VERDICT__COUNT)
		return "unknown";
	return verdict_names[verdict];
}
