/* One JSON string escaper for every writer of the runtime (predict --json, explain, serve). */
#include "runtime/base/json.h"

#include <string.h>

/* The length of the valid UTF-8 sequence at s (2 to 4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0], d = s[1];
  size_t n = c > 0xf4 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  /* no overlong forms, no surrogates, nothing past U+10FFFF */
  if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90))
    return 0;
  for (size_t i = 1; i < n; i++) /* stops at the NUL of a cut sequence: it is not 10xxxxxx */
    if ((s[i] & 0xc0) != 0x80) return 0;
  return n;
}

size_t snt_json_char(const char *s, char out[8]) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = *p < 0x80 ? 1 : utf8_len(p);
  if (*p == '"' || *p == '\\') snprintf(out, 8, "\\%c", *p);
  else if (*p < 0x20 || *p == 0x7f) snprintf(out, 8, "\\u%04x", *p);
  else if (n == 0) snprintf(out, 8, "\\ufffd");
  else memcpy(out, p, n), out[n] = 0;
  return n ? n : 1;
}

void snt_json_string(FILE *f, const char *s) {
  char buf[8];
  fputc('"', f);
  while (*s) {
    s += snt_json_char(s, buf);
    fputs(buf, f);
  }
  fputc('"', f);
}
