/*
 * names.h - AWS IoT's rules for registry names and values.
 *
 * Checks thing, thing type, attribute, policy and shadow names, attribute
 * values and client tokens against the same patterns and length limits that
 * AWS IoT applies (taken from the botocore "iot" and "iot-data" service
 * models), and builds AWS's "1 validation error detected: ..." sentence.
 *
 * The module is pure: it does no I/O, keeps no state and never allocates.
 *
 * Every names_check_* function takes the bytes s[0..len) (not a C string, so
 * NUL bytes inside count as bytes and fail the pattern) and returns 0 when
 * they are valid, or UMBRA_EINVAL. On failure, if why is not NULL, *why is set
 * to a static string naming the broken constraint the way AWS does, e.g.
 * "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+". *why is
 * left alone on success. s == NULL gives "Member must not be null".
 *
 * Lengths are in bytes. Every accepted value is ASCII, so for accepted values
 * bytes equal the characters AWS counts. Only one broken constraint is
 * reported where AWS may list several: an empty value gives the minimum-length
 * message if the field has a minimum, otherwise the pattern is checked before
 * the maximum length (so 100 non-ASCII characters give the pattern message, as
 * on AWS, rather than a byte-length one).
 */
#ifndef UMBRA_REGISTRY_NAMES_H
#define UMBRA_REGISTRY_NAMES_H

#include <stddef.h>

#define NAMES_THING_MAX 128
#define NAMES_THING_TYPE_MAX 128
#define NAMES_ATTRIBUTE_NAME_MAX 128
#define NAMES_ATTRIBUTE_VALUE_MAX 800
#define NAMES_POLICY_MAX 128
#define NAMES_SHADOW_MAX 64
#define NAMES_CLIENT_TOKEN_MAX 64

/* Thing name: [a-zA-Z0-9:_-]+, 1..128. */
int names_check_thing(const char *s, size_t len, const char **why);

/* Thing type name: [a-zA-Z0-9:_-]+, 1..128. */
int names_check_thing_type(const char *s, size_t len, const char **why);

/* Attribute name: [a-zA-Z0-9_.,@/:#-]+, at most 128 (the pattern needs one). */
int names_check_attribute_name(const char *s, size_t len, const char **why);

/* Attribute value: [a-zA-Z0-9_.,@/:#=\[\]-]*, 0..800. Empty is valid. */
int names_check_attribute_value(const char *s, size_t len, const char **why);

/* Policy name: [\w+=,.@-]+ where \w is [a-zA-Z0-9_], 1..128. */
int names_check_policy(const char *s, size_t len, const char **why);

/* Named shadow name: [$a-zA-Z0-9:_-]+, 1..64 ('$' for reserved names like $package). */
int names_check_shadow(const char *s, size_t len, const char **why);

/* Shadow clientToken: 1..64 bytes of printable ASCII (0x20..0x7e). */
int names_check_client_token(const char *s, size_t len, const char **why);

/*
 * Write AWS's sentence for one failed check into out:
 *   1 validation error detected: Value '<value>' at '<field>' failed to
 *   satisfy constraint: <why>
 * value[0..len) is copied with bytes outside 0x20..0x7e written as \xNN and
 * '\' as "\\", so the result is printable text whatever the input was.
 * Like snprintf: out is always NUL-terminated when cap > 0 (truncated if need
 * be; out may be NULL when cap is 0) and the return value is the length the
 * whole sentence needs, without the NUL. Returns UMBRA_EINVAL if field or why
 * is NULL, value is NULL with len > 0, or the length would not fit in an int.
 */
int names_format_error(char *out, size_t cap, const char *field, const char *value, size_t len,
                       const char *why);

#endif
