/* Escaping and identifier mapping for model strings in the generated C (see names.h). */
#include "compiler/codegen/names.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- text ---- */

void snt_c_string(snt_strbuf *s, const char *text) {
  snt_sb_puts(s, "\"");
  for (const unsigned char *p = (const unsigned char *)text; p && *p; p++) {
    if (*p == '"' || *p == '\\' || *p == '?') snt_sb_printf(s, "\\%c", *p);
    else if (*p == '\n') snt_sb_puts(s, "\\n\"\n  \"");
    else if (*p < 0x20 || *p >= 0x7f) snt_sb_printf(s, "\\%03o", *p);
    else snt_sb_printf(s, "%c", *p);
  }
  snt_sb_puts(s, "\"");
}

/* Bytes a comment shows as they are: no '*' (so no comment end and no nested comment opener), no '\'
 * (line splice), no '?' (trigraphs), no control characters or bytes >= 0x7f. */
static bool comment_safe(unsigned char c) {
  return isalnum(c) || (c && strchr(" _-.,:;()[]<>=+#'!@$%&|~^{}`\"/", c));
}

void snt_c_comment(snt_strbuf *s, const char *text) {
  size_t i = 0;
  for (; text && text[i] && i < 120; i++) {
    unsigned char c = (unsigned char)text[i];
    if (comment_safe(c)) snt_sb_printf(s, "%c", c);
    else snt_sb_printf(s, "\\x%02x", c);
  }
  if (text && text[i]) snt_sb_puts(s, "...");
}

/* ---- identifiers ---- */

/* Names a model prefix (or one derived from it) must not be: C17 and later keywords, names
 * the C library headers declare or define (stdio, stdlib, string, math, stdint, stddef,
 * stdbool, stdarg, limits, errno, ctype, time, signal, setjmp, assert, POSIX) and gcc's
 * predefined macros. Math functions also exist with an f and an l suffix (see reserved()). */
static const char *const c_names[] = {
    /* keywords (C17, C23, gcc) */
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "_Alignas", "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
    "_Static_assert", "_Thread_local", "_BitInt", "_Decimal32", "_Decimal64", "_Decimal128", "alignas", "alignof",
    "bool", "constexpr", "false", "nullptr", "static_assert", "thread_local", "true", "typeof", "typeof_unqual",
    "asm", "fortran", "complex", "imaginary", "noreturn", "linux", "unix", "i386", "main",
    /* stddef, stdarg, stdbool, setjmp, assert, errno, signal */
    "offsetof", "ptrdiff_t", "size_t", "max_align_t", "wchar_t", "va_list", "va_start", "va_arg", "va_end",
    "va_copy", "setjmp", "longjmp", "jmp_buf", "sigsetjmp", "siglongjmp", "assert", "errno", "signal", "raise",
    "kill", "sigaction", "environ",
    /* stdlib */
    "abort", "abs", "aligned_alloc", "alloca", "at_quick_exit", "atexit", "atof", "atoi", "atol", "atoll",
    "bsearch", "calloc", "div", "exit", "free", "getenv", "labs", "ldiv", "llabs", "lldiv", "malloc", "mblen",
    "mbstowcs", "mbtowc", "qsort", "quick_exit", "rand", "realloc", "srand", "system", "wcstombs", "wctomb",
    "posix_memalign", "random", "srandom", "drand48", "erand48", "lrand48", "mrand48", "srand48", "mkstemp",
    "mkdtemp", "realpath", "setenv", "unsetenv", "putenv", "clearenv", "reallocarray", "valloc", "pvalloc",
    "memalign", "secure_getenv",
    /* string (str*, mem* and wcs* are reserved() patterns) */
    "bzero", "bcopy", "bcmp", "index", "rindex", "ffs", "basename", "stpcpy", "stpncpy",
    /* stdio */
    "printf", "fprintf", "sprintf", "snprintf", "vprintf", "vfprintf", "vsprintf", "vsnprintf", "scanf",
    "fscanf", "sscanf", "vscanf", "vfscanf", "vsscanf", "puts", "fputs", "fputc", "putc", "putchar", "getc",
    "getchar", "fgetc", "fgets", "gets", "ungetc", "fopen", "fclose", "fflush", "freopen", "fread", "fwrite",
    "fseek", "ftell", "fseeko", "ftello", "rewind", "fgetpos", "fsetpos", "clearerr", "feof", "ferror", "perror",
    "remove", "rename", "tmpfile", "tmpnam", "setbuf", "setvbuf", "stdin", "stdout", "stderr", "getline",
    "getdelim", "dprintf", "fdopen", "fileno", "popen", "pclose", "open_memstream", "fmemopen", "asprintf",
    "vasprintf", "flockfile", "funlockfile", "getw", "putw", "fpos_t",
    /* math (also with an f or l suffix) */
    "acos", "asin", "atan", "atan2", "cos", "sin", "tan", "acosh", "asinh", "atanh", "cosh", "sinh", "tanh",
    "exp", "exp2", "exp10", "expm1", "frexp", "ldexp", "log", "log10", "log1p", "log2", "logb", "modf",
    "scalbn", "scalbln", "scalb", "ilogb", "cbrt", "fabs", "hypot", "pow", "pow10", "sqrt", "erf", "erfc",
    "lgamma", "tgamma", "gamma", "ceil", "floor", "nearbyint", "rint", "lrint", "llrint", "round", "lround",
    "llround", "trunc", "fmod", "remainder", "remquo", "copysign", "nan", "nextafter", "nexttoward", "fdim",
    "fmax", "fmin", "fma", "drem", "significand", "sincos", "j0", "j1", "jn", "y0", "y1", "yn", "finite",
    "signgam", "math_errhandling", "fpclassify", "signbit",
    /* time, POSIX */
    "time", "clock", "difftime", "mktime", "strftime", "gmtime", "localtime", "asctime", "ctime",
    "timespec_get", "timer_create", "timer_delete", "nanosleep", "timespec", "timeval", "tm", "read", "write",
    "open", "close", "fork", "pipe", "dup", "dup2", "unlink", "rmdir", "mkdir", "chdir", "getpid", "sleep",
    "usleep", "access", "link", "symlink", "stat", "lstat", "fstat", "getcwd", "optarg", "optind", "opterr",
    "optopt", "getopt", "select", "poll", "mmap", "munmap", "ioctl", "sync", "truncate", "wait", "waitpid",
    "execv", "execve", "execvp", "execl", "execlp", "readlink", "sysconf", "pthread_create", "thrd_create"};

static bool prefixed(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static bool prefix_ci(const char *s, const char *p) { return strncasecmp(s, p, strlen(p)) == 0; }

static bool listed(const char *s) {
  for (size_t i = 0; i < sizeof c_names / sizeof *c_names; i++)
    if (strcmp(s, c_names[i]) == 0) return true;
  return false;
}

/* Identifiers the C library reserves or may use (C17 7.31, POSIX _t), all-capital names
 * (macros: NULL, EOF, INT8_MAX, ...) and the runtime's own (snt_, SINTER_, sinter_). */
static bool reserved(const char *s) {
  size_t n = strlen(s);
  if (listed(s)) return true;
  if (n > 1 && (s[n - 1] == 'f' || s[n - 1] == 'l')) {
    char stem[64];
    if (n - 1 < sizeof stem) {
      memcpy(stem, s, n - 1);
      stem[n - 1] = '\0';
      if (listed(stem)) return true; /* expf, logl, fabsf, ... */
    }
  }
  bool lower = false;
  for (const char *p = s; *p; p++) lower |= islower((unsigned char)*p) != 0;
  if (!lower) return true;
  if (prefix_ci(s, "snt") || prefix_ci(s, "sinter")) return true;
  if (n > 2 && s[n - 2] == '_' && s[n - 1] == 't') return true;
  if (s[0] == 'E' && (isdigit((unsigned char)s[1]) || isupper((unsigned char)s[1]))) return true;
  const char *lower_next[] = {"is", "to", "str", "mem", "wcs"};
  for (size_t i = 0; i < sizeof lower_next / sizeof *lower_next; i++)
    if (prefixed(s, lower_next[i]) && islower((unsigned char)s[strlen(lower_next[i])])) return true;
  const char *prefixes[] = {"SIG", "LC_", "PRI", "SCN", "FE_", "FP_", "MATH_", "TIME_", "atomic_", "memory_",
                            "cnd_", "mtx_", "thrd_", "tss_", "pthread_", "posix_", "va_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (prefixed(s, prefixes[i])) return true;
  return false;
}

/* A plain identifier: a letter, then letters, digits and single underscores, not ending in one
 * (so <name>_create never holds "__", and the generated statics ending in '_' stay apart). */
static bool plain(const char *s) {
  if (!isalpha((unsigned char)s[0]) || strlen(s) > 63) return false;
  for (const char *p = s; *p; p++) {
    if (!isalnum((unsigned char)*p) && *p != '_') return false;
    if (*p == '_' && (p[1] == '_' || p[1] == '\0')) return false;
  }
  return true;
}

/* What the generated C derives from a prefix P: P_create, ..., and for a trainable executable
 * the models P_train and P_eval with their own (P_train_create, ...). */
static const char *const derived[] = {"", "_create", "_run", "_destroy", "_info", "_inputs", "_outputs", "_labels",
                                      "_params", "_weights", "_step", "_H", "_suite", "_train", "_eval"};

bool snt_c_ident_is_safe(const char *name) {
  if (!name || !plain(name)) return false;
  const char *models[] = {"", "_train", "_eval"};
  char id[128];
  for (size_t m = 0; m < 3; m++)
    for (size_t k = 0; k < sizeof derived / sizeof *derived; k++) {
      snprintf(id, sizeof id, "%s%s%s", name, models[m], derived[k]);
      if (reserved(id)) return false;
    }
  return true;
}

char *snt_c_ident(const char *name) {
  if (!name) name = "";
  if (snt_c_ident_is_safe(name)) return snt_strdup(name);
  uint32_t h = 2166136261u; /* FNV-1a over the whole name: names that sanitise alike stay apart */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
  char clean[25];
  size_t o = 0;
  for (const char *p = name; *p && o < sizeof clean - 1; p++) {
    if (isalnum((unsigned char)*p)) clean[o++] = *p;
    else if (o && clean[o - 1] != '_') clean[o++] = '_';
  }
  while (o && clean[o - 1] == '_') o--;
  clean[o] = '\0';
  return snt_format("sinter_%s%s%08x", clean, o ? "_" : "", (unsigned)h);
}
