/* accounts.h: agents as PostgreSQL keeps them: the agent row, its SIP peer
 * and the PJSIP realtime rows Asterisk reads, made and removed together. */
#ifndef APP_AGENTS_ACCOUNTS_H
#define APP_AGENTS_ACCOUNTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct agents;
struct db_pool;

/* A new agent; every string is copied by the pool before the call
 * returns. */
struct agents_account {
	const char *name;
	const char *external_user_id; /* NULL: none */
	const char *sip_username;     /* NULL: "agent<id>" */
	const char *sip_password;
	const char *sip_server; /* what its phone registers with */
	bool webrtc;            /* a browser softphone, not a SIP phone */
	/* false: the PBX already has the endpoint sip_username (pjsip.conf,
	 * FreePBX): only sip_peers records it (provisioned = false, no
	 * password), and no realtime row is written, then or ever. */
	bool provision;
};

/* How a statement ended: error 0, or a negative errno with the failed
 * query's result when there is one (borrowed for the call). */
struct agents_accounts_result {
	int error;
	const PGresult *db_res;
	int64_t id;               /* create: the new agent */
	const char *sip_username; /* create: its SIP user (borrowed) */
	bool found;               /* delete: there was such an agent */
};

typedef void (*agents_accounts_cb)(const struct agents_accounts_result *r,
				   void *userdata);

/* Creates the agent and its SIP account (or, without provision, binds it to
 * the PBX's endpoint) in one statement. Returns 0, and
 * cb runs exactly once, later; or -ENODEV (db is NULL), -ENOMEM or
 * db_pool_query()'s negative errno, and cb never runs. */
int agents_accounts_create(struct db_pool *db, const struct agents_account *acc,
			   agents_accounts_cb cb, void *userdata);

/* Deletes agent id and its SIP account in one statement, unless the
 * registry (agents, may be NULL) has it ringing or on a call. Returns 0,
 * and cb runs exactly once, later; or -EBUSY (on a call), -ENODEV (db is
 * NULL), -ENOMEM or db_pool_query()'s negative errno, and cb never runs. */
int agents_accounts_delete(struct db_pool *db, struct agents *agents,
			   int64_t id, agents_accounts_cb cb, void *userdata);

#endif /* APP_AGENTS_ACCOUNTS_H */
