/* snt_image__dicom_walk: a pass over a DICOM Part 10 file's element headers before DCMTK parses
 * it. DCMTK allocates an element's declared length before reading its value, so a 1 KB file can
 * make it ask for gigabytes; here every declared length is checked against the bytes left in the
 * file and in its enclosing sequence or item. The walk reads the structure as DCMTK does and
 * refuses what it could read otherwise (items outside sequences, delimiters with a length or in
 * the wrong place, values crossing their item's end): where the two agree on every header, no
 * length DCMTK reads goes unchecked. */
#include <stdint.h>
#include <string.h>

#include "../image_internal.h"

enum { MAX_DEPTH = 32 }; /* nesting of sequences and items walked; deeper files are refused */

/* A sequence or item the walk is inside. */
typedef struct level {
  size_t end;   /* where a defined-length one ends; SIZE_MAX: undefined length */
  size_t limit; /* the nearest defined end around it: no header or value may pass it */
  char kind;    /* 'S' a sequence of items, 'F' encapsulated pixel data (fragments), 'I' an item */
  char un;      /* inside a UN of undefined length, whose content is implicit VR little endian
                 * (PS3.5 6.2.2) */
} level;

typedef struct walker {
  const unsigned char *p;
  size_t len, pos;
  int big, implicit; /* the data set's encoding (the meta group is explicit little endian) */
  size_t meta_end;   /* where (0002,0000) says the meta group ends: DCMTK reads up to there as meta */
  int meta_over;     /* an element outside the meta group was seen: DCMTK's meta group has ended */
  char *uid;         /* out: the transfer syntax UID of (0002,0010), "" when absent */
  int depth;
  level lv[MAX_DEPTH];
} walker;

static unsigned u16(const walker *w, size_t at, int big) {
  const unsigned char *b = w->p + at;
  return big ? (unsigned)b[0] << 8 | b[1] : (unsigned)b[1] << 8 | b[0];
}

static unsigned long u32(const walker *w, size_t at, int big) {
  const unsigned char *b = w->p + at;
  return big ? (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 | (unsigned long)b[2] << 8 | b[3]
             : (unsigned long)b[3] << 24 | (unsigned long)b[2] << 16 | (unsigned long)b[1] << 8 | b[0];
}

/* The VRs of PS3.5 7.1.2; `lng`: the ones with a reserved field and a 4-byte length. */
static int known_vr(const unsigned char *v, int *lng) {
  static const char all[] = "AEASATCSDADSDTFLFDISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
  static const char longs[] = "OBODOFOLOVOWSQUCUNURUTSVUV";
  for (size_t i = 0; i + 1 < sizeof all; i += 2)
    if (v[0] == all[i] && v[1] == all[i + 1]) {
      *lng = 0;
      for (size_t k = 0; k + 1 < sizeof longs; k += 2) *lng |= v[0] == longs[k] && v[1] == longs[k + 1];
      return 1;
    }
  return 0;
}

/* The transfer syntax UID of the meta group's (0002,0010), to know how the data set is encoded. */
static snt_status set_syntax(const char *path, walker *w, size_t at, unsigned long n, snt_err *e) {
  char *uid = w->uid;
  memset(uid, 0, SNT_IMAGE__UID_SIZE);
  memcpy(uid, w->p + at, n < SNT_IMAGE__UID_SIZE - 1 ? n : SNT_IMAGE__UID_SIZE - 1);
  for (int i = (int)strlen(uid) - 1; i >= 0 && (uid[i] == ' ' || uid[i] == '\0'); i--) uid[i] = '\0';
  w->implicit = strcmp(uid, "1.2.840.10008.1.2") == 0;
  w->big = strcmp(uid, "1.2.840.10008.1.2.2") == 0;
  if (strcmp(uid, "1.2.840.10008.1.2.1.99") == 0)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: deflated DICOM (transfer syntax 1.2.840.10008.1.2.1.99) is not supported", path);
  return SNT_OK;
}

static level *top(walker *w) { return w->depth ? &w->lv[w->depth - 1] : NULL; }

static size_t limit_of(walker *w) { return w->depth ? top(w)->limit : w->len; }

/* Enters a sequence or item of n bytes (0xFFFFFFFF: undefined) whose content begins at `from`. */
static snt_status enter(const char *path, walker *w, char kind, size_t from, unsigned long n, int un, snt_err *e) {
  if (w->depth == MAX_DEPTH)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM sequences nested more than %d deep at byte %zu", path, MAX_DEPTH / 2, from);
  size_t lim = limit_of(w), end = n == 0xFFFFFFFFUL ? SIZE_MAX : from + n;
  w->lv[w->depth++] = (level){end, end < lim ? end : lim, kind, (char)un};
  return SNT_OK;
}

/* n bytes of value at `at` (after a header of `head` bytes at `start`) must fit in the file and in
 * the sequence or item around them. */
static snt_status fits(const char *path, walker *w, size_t start, unsigned group, unsigned elem, size_t head,
                       unsigned long n, snt_err *e) {
  size_t lim = limit_of(w), room = lim - start - head;
  if (n <= room) return SNT_OK;
  if (lim == w->len)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): element (%04x,%04x) at byte %zu declares %lu bytes, %zu remain",
                       path, w->len, group, elem, start, n, room);
  return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte %zu declares %lu bytes, past the end "
                     "of its sequence or item at byte %zu", path, group, elem, start, n, lim);
}

/* An item or delimiter header (group FFFE) at `at`, with its length n. */
static snt_status step_item(const char *path, walker *w, size_t at, unsigned elem, unsigned long n, snt_err *e) {
  level *t = top(w);
  char kind = t ? t->kind : 'D';
  int undefined_here = t && t->end == SIZE_MAX;
  w->pos = at + 8;
  if (elem == 0xE000 && kind == 'F') { /* a fragment: opaque bytes */
    if (n == 0xFFFFFFFFUL)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: pixel data fragment at byte %zu of undefined length", path, at);
    snt_status st = fits(path, w, at, 0xFFFE, elem, 8, n, e);
    w->pos += n;
    return st;
  }
  if (elem == 0xE000 && kind == 'S') {
    snt_status st = n == 0xFFFFFFFFUL ? SNT_OK : fits(path, w, at, 0xFFFE, elem, 8, n, e);
    return st ? st : enter(path, w, 'I', at + 8, n, t->un, e);
  }
  /* Delimiters close an undefined-length item (E00D) or sequence (E0DD) and have no value. */
  int closes = (elem == 0xE00D && kind == 'I') || (elem == 0xE0DD && (kind == 'S' || kind == 'F'));
  if ((elem == 0xE00D || elem == 0xE0DD) && closes && undefined_here && n == 0) {
    w->depth--;
    return SNT_OK;
  }
  if (elem == 0xE00D || elem == 0xE0DD)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: %s delimiter (fffe,%04x) at byte %zu %s", path,
                       elem == 0xE00D ? "an item" : "a sequence", elem, at,
                       n ? "with a length (it has none)" : "outside an item or sequence of undefined length");
  return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: item tag (fffe,%04x) at byte %zu %s", path, elem, at,
                     elem == 0xE000 ? "outside a sequence" : "of no known kind");
}

/* Whether a value of implicit VR is a sequence: DCMTK knows from its dictionary, the walk from an
 * item tag at its start (a sequence's value begins with one); pixel data never is one, whatever
 * its first two samples. */
static int starts_with_item(const walker *w, unsigned group, size_t at, unsigned long n) {
  return group != 0x7FE0 && n >= 8 && u16(w, at, 0) == 0xFFFE && u16(w, at + 2, 0) == 0xE000;
}

/* One element or item header at w->pos; moves past the header, and past the value when the walk
 * does not descend into it. */
static snt_status step(const char *path, walker *w, snt_err *e) {
  while (w->depth && top(w)->end == w->pos) w->depth--; /* defined-length ones that end here */
  size_t at = w->pos, lim = limit_of(w);
  if (w->len - at < 8) return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): it ends inside an element", path, w->len);
  if (lim - at < 8)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: a header at byte %zu crosses the end of its sequence or item at byte %zu",
                       path, at, lim);
  int un = w->depth && top(w)->un;
  /* DCMTK reads the meta group up to where (0002,0000) says it ends, or without it while the
   * tags are of group 0002; then the data set, in an encoding it guesses when the meta group did
   * not name one: a group 0002 element later (a UID the walk would follow) would have the two
   * read different lengths. */
  int meta = !w->meta_over && (w->meta_end ? at < w->meta_end : u16(w, at, 0) == 0x0002), big = w->big && !meta && !un;
  unsigned group = u16(w, at, big), elem = u16(w, at + 2, big);
  w->meta_over |= !meta;
  if (!meta && group == 0x0002)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (0002,%04x) at byte %zu follows the end of the file "
                       "meta information (group 0002 belongs only there)", path, elem, at);
  if (group == 0xFFFE) return step_item(path, w, at, elem, u32(w, at + 4, big), e);
  if (w->depth && top(w)->kind != 'I')
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte %zu inside a sequence, where an item "
                       "should be", path, group, elem, at);
  unsigned long n;
  size_t head = 8;
  int implicit = (w->implicit && !meta) || un, sq = 0, un_vr = 0;
  if (implicit) {
    n = u32(w, at + 4, big);
  } else {
    int lng;
    if (!known_vr(w->p + at + 4, &lng))
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte %zu has no valid VR", path,
                         group, elem, at);
    if (lng && w->len - at < 12) return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): it ends inside an element", path, w->len);
    if (lng && lim - at < 12)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: a header at byte %zu crosses the end of its sequence or item at byte %zu",
                         path, at, lim);
    n = lng ? u32(w, at + 8, big) : u16(w, at + 6, big);
    head = lng ? 12 : 8;
    sq = w->p[at + 4] == 'S' && w->p[at + 5] == 'Q';
    un_vr = w->p[at + 4] == 'U' && w->p[at + 5] == 'N';
  }
  /* The file meta information (PS3.10 7.1) is group 0002 elements only, none a sequence or of
   * undefined length; DCMTK's recovery from such damage there reserves what it declares. */
  if (meta && (group != 0x0002 || sq || n == 0xFFFFFFFFUL))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: the file meta information holds element (%04x,%04x) at byte %zu, %s",
                       path, group, elem, at, group != 0x0002 ? "not of group 0002" : "a sequence or of undefined length");
  w->pos = at + head;
  if (n == 0xFFFFFFFFUL) { /* undefined length: encapsulated pixel data, or a sequence */
    if (group == 0x7FE0 && elem == 0x0010) return enter(path, w, 'F', w->pos, n, un, e);
    if (implicit || sq || un_vr) return enter(path, w, 'S', w->pos, n, un || un_vr, e);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte %zu of VR %c%c has an undefined "
                       "length (only SQ, UN and encapsulated pixel data may)", path, group, elem, at, w->p[at + 4], w->p[at + 5]);
  }
  snt_status st = fits(path, w, at, group, elem, head, n, e);
  if (st != SNT_OK) return st;
  if (meta && group == 0x0002 && elem == 0x0000 && at == 132) { /* DCMTK takes the first element's value as the length */
    if (implicit || w->p[at + 4] != 'U' || w->p[at + 5] != 'L' || n != 4)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: the file meta information group length (0002,0000) is not "
                         "one UL value", path);
    w->meta_end = at + head + 4 + u32(w, at + head, 0);
  }
  if (meta && group == 0x0002 && elem == 0x0010 && (st = set_syntax(path, w, at + head, n, e)) != SNT_OK) return st;
  if (sq || (implicit && starts_with_item(w, group, w->pos, n))) return n ? enter(path, w, 'S', w->pos, n, un, e) : SNT_OK;
  w->pos += n;
  return SNT_OK;
}

snt_status snt_image__dicom_walk(const char *path, const unsigned char *p, size_t len, char *uid, snt_err *e) {
  walker w = {.p = p, .len = len, .pos = 132, .uid = uid};
  uid[0] = '\0';
  /* The meta information follows the prefix at once (PS3.10 7.1). Without it DCMTK guesses the
   * encoding from the first tag's bytes, big endian too, and reserves lengths read so (a 630-byte
   * file asked for 2.2 GB), which this walk, reading little endian, would not check. */
  if (len >= 136 && u16(&w, 132, 0) != 0x0002)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte 132, where the file meta "
                       "information (group 0002) should begin", path, u16(&w, 132, 0), u16(&w, 134, 0));
  while (w.pos < len) {
    snt_status st = step(path, &w, e);
    if (st != SNT_OK) return st;
  }
  return SNT_OK;
}

/* A marker that may come before the frame header, with a length: APPn, DQT, DHT, DAC, DRI, DNL,
 * DHP, EXP, COM and the JPEG extensions (ITU T.81 table B.1). */
static int jpeg_table_marker(unsigned m) {
  return (m >= 0xE0 && m <= 0xEF) || m == 0xDB || m == 0xC4 || m == 0xCC || (m >= 0xDC && m <= 0xDF) || m == 0xFE ||
         (m >= 0xF0 && m <= 0xFD);
}

snt_status snt_image__dicom_jpeg_check(const char *path, const unsigned char *p, size_t len, snt_err *e) {
  if (len < 4 || p[0] != 0xFF || p[1] != 0xD8)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged JPEG data in the pixel data: no start of image", path);
  for (size_t at = 2; at + 4 <= len;) {
    unsigned m = p[at + 1], n = (unsigned)p[at + 2] << 8 | p[at + 3];
    if (p[at] == 0xFF && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return SNT_OK; /* SOFn */
    if (p[at] != 0xFF || !jpeg_table_marker(m) || n < 2)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged JPEG data in the pixel data: bytes %02x %02x at %zu, where a marker "
                         "segment or the frame header should be", path, p[at], m, at);
    at += 2 + (size_t)n;
  }
  return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged JPEG data in the pixel data: no frame header", path);
}
