/*
 * iot_data.h - umbractl's `aws iot-data` commands: HTTPS requests to the
 * running umbrad's data-plane API.
 *
 * Shadows and messages live in the daemon, so these commands talk to it:
 * at the URL in DATA_DIR/endpoint-url (written by umbrad when its HTTPS
 * listener starts) or --endpoint-url, trusting DATA_DIR/ca.pem and
 * presenting DATA_DIR/umbractl.pem, the administrator certificate umbrad
 * makes beside its CA. HTTP is libcurl's job.
 */
#ifndef UMBRA_CLI_IOT_DATA_H
#define UMBRA_CLI_IOT_DATA_H

#include <jansson.h>

/*
 * Run the data-plane operation `operation` ("GetThingShadow", "Publish", ...)
 * with the request fields in req (AWS names: thingName, shadowName, payload,
 * topic, qos, retain, nextToken, pageSize). outfile receives a streaming
 * response body (get/update/delete-thing-shadow). Prints like the AWS CLI.
 * Returns the exit status: 0, 1 (the operation failed), 2 (usage).
 */
int iot_data_run(const char *data_dir, const char *endpoint_url, const char *operation,
                 const json_t *req, const char *outfile);

#endif
