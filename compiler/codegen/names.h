/* Model strings in the generated C. A model file is untrusted: its names (model, graph, node,
 * tensor, layer, label) reach the C text only through these three functions, so no name can
 * end a comment, a string literal or a line, or become a declaration. */
#ifndef SINTER_COMPILER_CODEGEN_NAMES_H
#define SINTER_COMPILER_CODEGEN_NAMES_H

#include <stdbool.h>

#include "support/util.h"

/* Appends text as a C string literal: printable ASCII as is except '"', '\' and '?' (trigraphs),
 * which are escaped; every other byte (control characters, bytes >= 0x7f, invalid UTF-8) as a
 * three-digit octal escape, which no following digit can extend. A newline also ends the
 * literal's line (the literal continues on the next one). */
void snt_c_string(snt_strbuf *s, const char *text);

/* Appends text for the inside of a C comment (or a message): letters, digits, space and
 * punctuation stay; every other byte ('*', '\\', '?', control characters, bytes >= 0x7f) is
 * written as \xNN, so no comment end, line splice or trigraph can form. At most 120 bytes of
 * text are shown, then "...". */
void snt_c_comment(snt_strbuf *s, const char *text);

/* True when name can be the C prefix of a model as it is: an identifier of at most 63
 * characters, no C keyword, no C library or runtime (snt_ / SINTER_) name, no reserved
 * identifier, and none of the identifiers derived from it (<name>_create, _run, _info, ...,
 * <name>_train_..., the <name>_H include guard) is one either. */
bool snt_c_ident_is_safe(const char *name);

/* The C prefix of a model named `name` (malloc'ed): the name itself when snt_c_ident_is_safe,
 * else sinter_<the name's letters, digits and single '_', at most 24>_<8 hex digits of a hash
 * of the whole name>, so different names stay apart. NULL when out of memory. */
char *snt_c_ident(const char *name);

#endif
