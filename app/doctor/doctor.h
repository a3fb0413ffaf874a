/* doctor.h: `welcomedlyd doctor`: what the daemon needs of Asterisk and
 * PostgreSQL, checked one by one, with how to fix what is missing. */
#ifndef APP_DOCTOR_H
#define APP_DOCTOR_H

#include <stdio.h>

#include "config.h"

/*
 * Checks, in order: the ARI user (GET /asterisk/info), the Stasis
 * application (registered or not: a note, not a fault), the dialplan
 * (a Local/ call to welcomedly-check, whose extension marks a global
 * variable), the recording spool (GET /recordings/stored) and the database
 * (a connection and the migrations applied). Prints one line per check to
 * out, and a fix under each that failed. Returns 0 when nothing is wrong,
 * -EPROTO when something is, or another negative errno when the checks
 * could not run.
 */
int doctor_run(const struct config *cfg, FILE *out);

#endif /* APP_DOCTOR_H */
