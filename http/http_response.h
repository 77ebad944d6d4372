/*
 * http_response.h - HTTP/1.1 response heads and AWS-style error bodies.
 *
 * AWS's REST errors carry the exception name twice, for every client to
 * find it: the `x-amzn-ErrorType` header (what botocore reads first) and a
 * JSON body `{"message": "..."}`; every response names its request with
 * `x-amzn-RequestId`. Pure: formatting only.
 */
#ifndef UMBRA_HTTP_RESPONSE_H
#define UMBRA_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX 1024

/* "OK", "Not Found", ... ("Unknown" for a code this server never sends). */
const char *http_status_reason(int status);

/* The AWS exception for a shadow error code or HTTP status (400 ->
 * "InvalidRequestException", 409 -> "ConflictException", ...). */
const char *http_aws_exception(int status);

/*
 * Write the status line and headers of a response with a body of body_len
 * bytes into dst (cap >= HTTP_HEAD_MAX). error_type, when not NULL, becomes
 * x-amzn-ErrorType; request_id x-amzn-RequestId. Returns the length, or 0
 * if it did not fit.
 */
size_t http_response_head(char *dst, size_t cap, int status, const char *content_type,
                          size_t body_len, bool is_keep_alive, const char *request_id,
                          const char *error_type);

/* {"message": message} as compact JSON. Caller frees. NULL on allocation failure. */
char *http_error_body(const char *message);

#endif
