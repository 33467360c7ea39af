/* compiler/codegen/names.c: the C prefix of every hostile model name is a fresh identifier,
 * safe names keep theirs, and the two escapers give text that cannot leave a literal or a
 * comment (the string escaper round-trips every byte).
 *
 *   test_names INCLUDE_DIR   (the runtime headers: every snt_/SNT_/SINTER_ symbol in them is tried) */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "compiler/codegen/names.h"

/* C17 6.4.1, then names of the C library and of the generated code's locals. */
static const char renamed_words[] =
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local "
    "bool true false typeof asm alignas static_assert nullptr main abs exp free malloc memcpy printf exit NULL "
    "expf sqrtf fabsf logl strlen memset isnan errno stdin stdout linux unix EOF INFINITY NAN int8_t size_t "
    "uint64_t A S W timer pthread create_ run_ x_ _x __x a__b sinter snt Snt_x sinter_int "
    "a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_t_u_v_w_x_y_z_a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_t_u_v";
static const char kept_words[] =
    "simple_cnn deep_cnn resnet50v2 cnn m in out n seed d x y i k io w model create run info weights arena "
    "scratch tiny_net2 CNN_v2";

typedef struct names {
  char **v;
  int n, cap;
} names;

static void add(names *ns, const char *s, size_t len) {
  if (ns->n == ns->cap) {
    ns->cap = ns->cap ? ns->cap * 2 : 64;
    ns->v = realloc(ns->v, sizeof(char *) * (size_t)ns->cap);
  }
  ns->v[ns->n++] = strndup(s, len);
}

static void add_words(names *ns, const char *text) {
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, " ");
    if (len) add(ns, p, len);
    p += len + (p[len] == ' ');
  }
}

/* Every identifier of include/sinter/ that starts with snt_, SNT_ or SINTER_. */
static void add_runtime_symbols(names *ns, const char *include_dir) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/sinter", include_dir);
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
    char line[4096];
    while (f && fgets(line, sizeof line, f))
      for (char *p = line; *p; p++) {
        if (!(isalpha((unsigned char)*p) || *p == '_') || (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
          continue;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) || p[len] == '_') len++;
        if (!strncmp(p, "snt_", 4) || !strncmp(p, "SNT_", 4) || !strncmp(p, "SINTER_", 7)) add(ns, p, len);
        p += len - 1;
      }
    if (f) fclose(f);
  }
  if (d) closedir(d);
}

static bool plain_identifier(const char *s) {
  if (!isalpha((unsigned char)s[0])) return false;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_') || (p[0] == '_' && (p[1] == '_' || !p[1]))) return false;
  return true;
}

static void check_prefixes(test_state *ts, const char *include_dir) {
  names renamed = {0}, kept = {0};
  add_words(&renamed, renamed_words);
  add_runtime_symbols(&renamed, include_dir);
  int n_runtime = renamed.n;
  const char *hostile[] = {"", "1abc", "a b", "a-b", "*/", "//", "\"", "\\", "a\nb", "?\?/", "*/ system(\"x\"); /*",
                           "caf\xc3\xa9", "\xff\xfe\x80", "x\xc0\xaf"};
  for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) add(&renamed, hostile[i], strlen(hostile[i]));
  char long_name[4097];
  memset(long_name, 'L', 4096);
  long_name[4096] = '\0';
  add(&renamed, long_name, 4096);
  long_name[4095] = 'M'; /* differs only at the end: a different prefix all the same */
  add(&renamed, long_name, 4096);
  add_words(&kept, kept_words);
  CHECK(ts, n_runtime > 150); /* the headers were read */
  char **prefix = calloc((size_t)renamed.n, sizeof(char *));
  for (int i = 0; i < renamed.n; i++) {
    prefix[i] = snt_c_ident(renamed.v[i]);
    bool ok = prefix[i] && !snt_c_ident_is_safe(renamed.v[i]) && !strncmp(prefix[i], "sinter_", 7) &&
              strlen(prefix[i]) <= 48 && plain_identifier(prefix[i]);
    for (int k = 0; ok && k < i; k++) ok = strcmp(prefix[i], prefix[k]) != 0 || !strcmp(renamed.v[i], renamed.v[k]);
    CHECK(ts, ok);
    if (!ok) fprintf(stderr, "  model name '%s' -> C prefix '%s'\n", renamed.v[i], prefix[i] ? prefix[i] : "(null)");
  }
  for (int i = 0; i < kept.n; i++) {
    char *p = snt_c_ident(kept.v[i]);
    CHECK(ts, snt_c_ident_is_safe(kept.v[i]));
    CHECK_STR(ts, p, kept.v[i]);
    free(p);
  }
  for (int i = 0; i < renamed.n; i++) free(prefix[i]), free(renamed.v[i]);
  for (int i = 0; i < kept.n; i++) free(kept.v[i]);
  free(prefix), free(renamed.v), free(kept.v);
}

/* Decodes the C string literal(s) snt_c_string wrote; NULL when the text is not literals
 * separated by white space, or holds an escape it should not. */
static char *decode_literal(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  while (*s) {
    if (*s == ' ' || *s == '\n') {
      s++;
      continue;
    }
    if (*s++ != '"') return free(out), NULL;
    while (*s && *s != '"') {
      unsigned char c = (unsigned char)*s++;
      if (c < 0x20 || c >= 0x7f || c == '?') return free(out), NULL; /* raw: must have been escaped */
      if (c != '\\') {
        *o++ = (char)c;
        continue;
      }
      c = (unsigned char)*s++;
      if (c == 'n') *o++ = '\n';
      else if (c == '"' || c == '\\' || c == '?') *o++ = (char)c;
      else if (c >= '0' && c <= '7' && s[0] >= '0' && s[0] <= '7' && s[1] >= '0' && s[1] <= '7') /* always 3 digits */
        *o++ = (char)((c - '0') * 64 + (s[0] - '0') * 8 + (s[1] - '0')), s += 2;
      else return free(out), NULL;
    }
    if (*s++ != '"') return free(out), NULL;
  }
  *o = '\0';
  return out;
}

/* Nothing in a comment may close it, open another, splice a line or form a trigraph. */
static bool comment_inert(const char *c) {
  for (const char *p = c; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '*' || *p == '?' || (*p == '\\' && p[1] != 'x'))
      return false;
  return true;
}

static void check_escapes(test_state *ts) {
  char all[256];
  for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
  all[255] = '\0';
  const char *cases[] = {all, "", "?\?/", "?\?=?\?(?\?)?\?'?\?<?\?!?\?>?\?-" /* trigraphs */, "\\\n", "\"",
                         "a\001""7b", "\3771", "*/", "/*", "//",
                         "*/ system(\"touch pwned\"); /*", "*/\n#include \"/etc/hostname\"\n/*", "\xff\xfe\x80 bad \xc3("};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snt_strbuf lit = {0}, com = {0};
    snt_c_string(&lit, cases[i]);
    snt_c_comment(&com, cases[i]);
    char *back = lit.data ? decode_literal(lit.data) : NULL;
    CHECK_STR(ts, back, cases[i]);
    CHECK(ts, com.len == 0 || comment_inert(com.data));
    free(back);
    snt_sb_free(&lit);
    snt_sb_free(&com);
  }
  snt_strbuf com = {0}; /* long names are cut in comments */
  char long_name[4097];
  memset(long_name, '/', 4096);
  long_name[4096] = '\0';
  snt_c_comment(&com, long_name);
  CHECK(ts, com.len <= 130 && strstr(com.data, "...") != NULL);
  snt_sb_free(&com);
}

int main(int argc, char **argv) {
  test_state ts = {0};
  if (argc != 2) {
    fprintf(stderr, "usage: test_names INCLUDE_DIR\n");
    return 2;
  }
  check_prefixes(&ts, argv[1]);
  check_escapes(&ts);
  return test_report("names", &ts);
}
