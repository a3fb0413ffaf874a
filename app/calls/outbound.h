/* outbound.h: calls an agent places to a customer. */
#ifndef APP_CALLS_OUTBOUND_H
#define APP_CALLS_OUTBOUND_H

#include "calls/call.h"

/* The outbound machine: its entries and actions over the outbound table.
 * calls_originate() (calls.h) starts its calls. */
extern const struct call_machine calls__outbound;

#endif /* APP_CALLS_OUTBOUND_H */
