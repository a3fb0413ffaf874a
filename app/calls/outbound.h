/* outbound.h: calls an agent places to a customer. */
#ifndef APP_CALLS_OUTBOUND_H
#define APP_CALLS_OUTBOUND_H

#include "calls/call.h"

/* The outbound machine: its entries and actions over the outbound table.
 * calls_originate() (calls.h) starts its calls. */
extern const struct call_machine calls__outbound;

/* Takes over an outbound call an earlier process left talking (the agent's
 * leg, whose id is the call's, in a bridge of ours with the customer's),
 * as it is (calls__take_over). Returns the call (borrowed) or NULL
 * (logged). */
struct call *calls__outbound_adopt_talking(struct calls *calls,
					   const struct calls_talking *t);

#endif /* APP_CALLS_OUTBOUND_H */
