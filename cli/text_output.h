/*
 * text_output.h - print a JSON response the way `aws ... --output text` does.
 */
#ifndef UMBRA_CLI_TEXT_OUTPUT_H
#define UMBRA_CLI_TEXT_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

void text_output_print(FILE *out, const json_t *resp);

#endif
