/*
 * Replay guard: a request is accepted once, and only while its timestamp
 * is within a window of the receiver's clock. Nonces seen inside the window
 * are kept in a cache of fixed capacity; when it is full the entry with the
 * oldest timestamp is evicted.
 *
 * Lookups scan the whole cache. At the default capacity that is a few
 * thousand string compares per request, which is cheap for a control
 * socket that receives a handful of requests a minute.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto_internal.h"

struct replay_entry {
	int64_t timestamp;
	char nonce[65];
};

struct ivi_replay {
	int window;              /* seconds either side of now */
	size_t capacity;
	size_t count;
	bool dropped_any;        /* floor is meaningful */
	int64_t floor;           /* newest timestamp of a nonce no longer cached */
	struct replay_entry *entries;
};

int
ivi_replay_new(int window, size_t capacity, struct ivi_replay **out)
{
	struct ivi_replay *r;

	if (window < 0 || capacity == 0 || out == NULL)
		return IVI_E_INVALID_ARG;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return IVI_E_NOMEM;
	r->entries = calloc(capacity, sizeof(r->entries[0]));
	if (r->entries == NULL) {
		free(r);
		return IVI_E_NOMEM;
	}
	r->window = window;
	r->capacity = capacity;
	*out = r;
	return 0;
}

/* Forgets entry i and remembers its timestamp in the floor. */
static void
replay_drop(struct ivi_replay *r, size_t i)
{
	if (!r->dropped_any || r->entries[i].timestamp > r->floor)
		r->floor = r->entries[i].timestamp;
	r->dropped_any = true;
	r->entries[i] = r->entries[r->count - 1];
	r->count--;
}

/* Drops the entries whose timestamps have left the window. */
static void
replay_expire(struct ivi_replay *r, time_t now)
{
	size_t i = 0;

	while (i < r->count) {
		if (r->entries[i].timestamp < (int64_t)now - r->window)
			replay_drop(r, i);
		else
			i++;
	}
}

/* Drops the entry with the oldest timestamp. */
static void
replay_evict_oldest(struct ivi_replay *r)
{
	size_t oldest = 0;

	for (size_t i = 1; i < r->count; i++) {
		if (r->entries[i].timestamp < r->entries[oldest].timestamp)
			oldest = i;
	}
	replay_drop(r, oldest);
}

int
ivi_replay_check(struct ivi_replay *r, int64_t timestamp, const char *nonce, time_t now)
{
	struct replay_entry *e;

	if (r == NULL || nonce == NULL || strlen(nonce) >= sizeof(e->nonce))
		return IVI_E_INVALID_ARG;

	if (timestamp < (int64_t)now - r->window || timestamp > (int64_t)now + r->window)
		return IVI_E_STALE_TIMESTAMP;
	replay_expire(r, now);

	/* A nonce not newer than one already forgotten could be a replay of it. */
	if (r->dropped_any && timestamp <= r->floor)
		return IVI_E_STALE_TIMESTAMP;
	for (size_t i = 0; i < r->count; i++) {
		if (strcmp(r->entries[i].nonce, nonce) == 0)
			return IVI_E_REPLAYED_NONCE;
	}

	if (r->count == r->capacity)
		replay_evict_oldest(r);
	e = &r->entries[r->count++];
	e->timestamp = timestamp;
	strcpy(e->nonce, nonce);
	return 0;
}

size_t
ivi_replay_count(const struct ivi_replay *r)
{
	return r != NULL ? r->count : 0;
}

void
ivi_replay_free(struct ivi_replay *r)
{
	if (r == NULL)
		return;
	free(r->entries);
	free(r);
}
