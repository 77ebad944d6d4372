/*
 * http_response.c - response heads and error bodies.
 */
#include "http_response.h"

#include <jansson.h>
#include <stdio.h>

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

const char *http_aws_exception(int status)
{
    switch (status) {
    case 401: return "UnauthorizedException";
    case 403: return "ForbiddenException";
    case 404: return "ResourceNotFoundException";
    case 405: return "MethodNotAllowedException";
    case 409: return "ConflictException";
    case 413: return "RequestEntityTooLargeException";
    case 415: return "UnsupportedDocumentEncodingException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return status >= 500 ? "InternalFailureException" : "InvalidRequestException";
    }
}

size_t http_response_head(char *dst, size_t cap, int status, const char *content_type,
                          size_t body_len, bool is_keep_alive, const char *request_id,
                          const char *error_type)
{
    int n = snprintf(dst, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s%s%s"
                     "%s%s%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     status, http_status_reason(status), content_type, body_len,
                     request_id ? "x-amzn-RequestId: " : "", request_id ? request_id : "",
                     request_id ? "\r\n" : "", error_type ? "x-amzn-ErrorType: " : "",
                     error_type ? error_type : "", error_type ? "\r\n" : "",
                     is_keep_alive ? "keep-alive" : "close");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

char *http_error_body(const char *message)
{
    json_t *o = json_pack("{s:s}", "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}
