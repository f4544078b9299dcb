/*
 * LS11CLOUD - a small hash map from non-zero 64-bit keys to pointers, for the token engine's
 * handle tables (session handles, object handles, store ids).
 *
 * Open addressing with linear probing and tombstones; the table doubles at 1/2 load (counting
 * tombstones) so a probe stays short.  Not thread-safe: the owner's lock guards it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "token-private.h"

#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((void *)&ls_tmap_tombstone_marker)

static const char ls_tmap_tombstone_marker;

static size_t
slot_of(uint64_t key, size_t cap)
{
	/* A 64-bit mix (splitmix64 finaliser) so sequential handles spread over the table. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

void
ls_tmap_init(ls_tmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
ls_tmap_clear(ls_tmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int
tmap_grow(ls_tmap *m)
{
	size_t cap = m->cap == 0 ? 16 : m->cap * 2, i;
	uint64_t *keys;
	void **vals;

	if (m->count * 4 < m->cap)
		cap = m->cap; /* mostly tombstones: rehash in place size */
	keys = calloc(cap, sizeof(*keys));
	vals = calloc(cap, sizeof(*vals));
	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return LS_ERR_NOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (m->keys[i] == 0 || m->vals[i] == TOMBSTONE)
			continue;
		j = slot_of(m->keys[i], cap);
		while (keys[j] != 0)
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	m->used = m->count;
	return LS_OK;
}

void *
ls_tmap_get(const ls_tmap *m, uint64_t key)
{
	size_t i;

	if (m->cap == 0 || key == 0)
		return NULL;
	i = slot_of(key, m->cap);
	while (m->keys[i] != 0) {
		if (m->keys[i] == key)
			return m->vals[i] == TOMBSTONE ? NULL : m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

int
ls_tmap_put(ls_tmap *m, uint64_t key, void *val)
{
	size_t i, tomb = SIZE_MAX;
	int r;

	if (key == 0 || val == NULL)
		return LS_ERR_INVALID_ARG;
	if ((m->used + 1) * 2 > m->cap && (r = tmap_grow(m)) != LS_OK)
		return r;
	i = slot_of(key, m->cap);
	while (m->keys[i] != 0) {
		if (m->keys[i] == key) {
			if (m->vals[i] == TOMBSTONE)
				m->count++;
			m->vals[i] = val;
			return LS_OK;
		}
		if (m->vals[i] == TOMBSTONE && tomb == SIZE_MAX)
			tomb = i;
		i = (i + 1) & (m->cap - 1);
	}
	if (tomb != SIZE_MAX) {
		/* The key may still sit further along the chain only as a tombstone: reuse this one. */
		m->keys[tomb] = key;
		m->vals[tomb] = val;
	} else {
		m->keys[i] = key;
		m->vals[i] = val;
		m->used++;
	}
	m->count++;
	return LS_OK;
}

void *
ls_tmap_remove(ls_tmap *m, uint64_t key)
{
	size_t i;
	void *v;

	if (m->cap == 0 || key == 0)
		return NULL;
	i = slot_of(key, m->cap);
	while (m->keys[i] != 0) {
		if (m->keys[i] == key) {
			if (m->vals[i] == TOMBSTONE)
				return NULL;
			v = m->vals[i];
			m->vals[i] = TOMBSTONE;
			m->count--;
			return v;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

bool
ls_tmap_next(const ls_tmap *m, size_t *iter, uint64_t *key, void **val)
{
	while (*iter < m->cap) {
		size_t i = (*iter)++;

		if (m->keys[i] != 0 && m->vals[i] != TOMBSTONE) {
			if (key != NULL)
				*key = m->keys[i];
			if (val != NULL)
				*val = m->vals[i];
			return true;
		}
	}
	return false;
}
