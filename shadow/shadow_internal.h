/*
 * shadow_internal.h - the tree operations shadow.c builds requests from
 * (shadow_tree.c): merge with metadata, delta, equality, size, encoding.
 */
#ifndef UMBRA_SHADOW_INTERNAL_H
#define UMBRA_SHADOW_INTERNAL_H

#include "shadow.h"

/* Iterate a borrowed const object: jansson's macro wants a mutable one. */
#define CONST_FOREACH(obj, key, val) json_object_foreach((json_t *)(obj), key, val)

/* Metadata mirroring v: {"timestamp":now} for scalars and null, an array of
 * mirrors for an array, an object of mirrors for an object. NULL on ENOMEM. */
json_t *shadow_meta_mirror(const json_t *v, int64_t now);

/* Apply the request object patch onto the object state and its metadata
 * meta, in place, with AWS's merge rules. -1 on ENOMEM. */
int shadow_merge(json_t *state, json_t *meta, const json_t *patch, int64_t now);

/* *out = delta of desired against reported (either may be NULL), NULL when
 * empty; *out_meta (if out_meta) = its metadata taken from desired_meta.
 * -1 on ENOMEM. */
int shadow_delta_of(const json_t *desired, const json_t *reported, const json_t *desired_meta,
                    json_t **out, json_t **out_meta);

/* Deep equality where numbers compare by value (1 equals 1.0). */
bool shadow_value_equal(const json_t *a, const json_t *b);

/* Bytes of v serialized as compact JSON, numbers in their shortest form. */
size_t shadow_json_size(const json_t *v);

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool shadow_utf8_valid(const char *s, size_t n);

#endif
