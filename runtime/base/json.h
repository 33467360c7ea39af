/* JSON string literals of untrusted text (file names, labels, messages quoting them); internal
 * to the runtime. */
#ifndef SINTER_RUNTIME_BASE_JSON_H
#define SINTER_RUNTIME_BASE_JSON_H

#include <stddef.h>
#include <stdio.h>

/* The JSON form of the character at s (not at its end): quote and backslash escaped, control
 * bytes and DEL as \u00XX, a valid UTF-8 sequence as it is, any other byte as \ufffd, so the
 * output is valid JSON whatever the bytes. Writes it NUL-terminated to out (at most 7 bytes)
 * and returns how many bytes of s it took (1 to 4). */
size_t snt_json_char(const char *s, char out[8]);

/* s as a JSON string, quotes included. */
void snt_json_string(FILE *f, const char *s);

#endif
