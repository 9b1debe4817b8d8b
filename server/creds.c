/* Reference-counted TLS credentials and the table of live sets. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ivi_err.h"
#include "creds.h"

void
srv_creds_table_init(struct srv_creds_table *t)
{
	memset(t, 0, sizeof(*t));
	LIST_INIT(&t->live);
}

int
srv_creds_publish(struct srv_creds_table *t, const struct ivi_bundle_desc *desc,
    gnutls_certificate_credentials_t xcred, time_t now)
{
	struct srv_creds *c, *old;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		gnutls_certificate_free_credentials(xcred);
		return IVI_E_NOMEM;
	}
	c->table = t;
	c->refcount = 1;
	c->generation = ++t->last_generation;
	c->loaded_at = now;
	c->desc = *desc;
	c->xcred = xcred;
	LIST_INSERT_HEAD(&t->live, c, entry);
	t->live_count++;

	/* The swap itself: new handshakes take c from here on. */
	old = t->current;
	t->current = c;
	srv_creds_release(old);
	return 0;
}

struct srv_creds *
srv_creds_acquire(struct srv_creds_table *t)
{
	if (t->current == NULL)
		return NULL;
	t->current->refcount++;
	return t->current;
}

void
srv_creds_release(struct srv_creds *c)
{
	if (c == NULL)
		return;
	if (--c->refcount > 0)
		return;
	LIST_REMOVE(c, entry);
	c->table->live_count--;
	gnutls_certificate_free_credentials(c->xcred);
	free(c);
}

unsigned long
srv_creds_connections(const struct srv_creds *c)
{
	if (c->table->current == c)
		return c->refcount - 1;
	return c->refcount;
}

unsigned long
srv_creds_older_connections(const struct srv_creds_table *t)
{
	const struct srv_creds *c;
	unsigned long n = 0;

	LIST_FOREACH(c, &t->live, entry) {
		if (c != t->current)
			n += c->refcount;
	}
	return n;
}

void
srv_creds_table_clear(struct srv_creds_table *t)
{
	struct srv_creds *c;

	c = t->current;
	t->current = NULL;
	srv_creds_release(c);
}
