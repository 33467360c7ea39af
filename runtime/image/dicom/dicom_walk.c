/* snt_image__dicom_walk: a pass over a DICOM Part 10 file's element headers before DCMTK parses
 * it. DCMTK allocates an element's declared length before reading its value, so a 1 KB file can
 * make it ask for gigabytes; here every declared length is checked against the bytes left. */
#include <string.h>

#include "../image_internal.h"

typedef struct walker {
  const unsigned char *p;
  size_t len, pos;
  int big, implicit; /* the data set's encoding (the meta group is explicit little endian) */
  int fragments;     /* inside encapsulated pixel data: items are opaque byte runs */
  size_t meta_end;   /* where (0002,0000) says the meta group ends: DCMTK reads up to there as meta */
  int meta_over;     /* an element outside the meta group was seen: DCMTK's meta group has ended */
  char *uid;         /* out: the transfer syntax UID of (0002,0010), "" when absent */
  int un;            /* depth of undefined-length sequences inside a UN element of undefined
                      * length, whose content is implicit VR little endian (PS3.5 6.2.2) */
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

/* One element or item header at w->pos; moves past the header, and past the value when the walk
 * does not descend into it. */
static snt_status step(const char *path, walker *w, snt_err *e) {
  size_t at = w->pos, left = w->len - at;
  if (left < 8) return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): it ends inside an element", path, w->len);
  int meta = !w->meta_over && (u16(w, at, 0) == 0x0002 || at < w->meta_end), big = w->big && !meta && !w->un;
  unsigned group = u16(w, at, big), elem = u16(w, at + 2, big);
  /* DCMTK ends the meta group at the first element outside it and reads the rest as the data
   * set, in an encoding it guesses when the meta group did not name one: a group 0002 element
   * later (a UID the walk would follow) means the two would read different lengths. */
  w->meta_over |= !meta;
  if (!meta && group == 0x0002)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (0002,%04x) at byte %zu follows the end of the file "
                       "meta information (group 0002 belongs only there)", path, elem, at);
  unsigned long n;
  size_t head = 8;
  int descend = 0;
  if (group == 0xFFFE) { /* items and delimiters have no VR */
    n = u32(w, at + 4, big);
    if (elem == 0xE0DD) w->fragments = 0, w->un -= w->un > 0;
    descend = elem == 0xE000 && !w->fragments;
  } else if ((w->implicit && !meta) || w->un) {
    n = u32(w, at + 4, big);
    w->un += w->un && n == 0xFFFFFFFFUL; /* a nested sequence */
  } else {
    int lng;
    if (!known_vr(w->p + at + 4, &lng))
      return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: element (%04x,%04x) at byte %zu has no valid VR", path,
                         group, elem, at);
    if (lng && left < 12) return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): it ends inside an element", path, w->len);
    n = lng ? u32(w, at + 8, big) : u16(w, at + 6, big);
    head = lng ? 12 : 8;
    descend = w->p[at + 4] == 'S' && w->p[at + 5] == 'Q';
    if (w->p[at + 4] == 'U' && w->p[at + 5] == 'N' && n == 0xFFFFFFFFUL) w->un = 1;
  }
  /* The file meta information (PS3.10 7.1) is group 0002 elements only, none a sequence or of
   * undefined length; DCMTK's recovery from such damage there reserves what it declares. */
  if (meta && (group != 0x0002 || descend || n == 0xFFFFFFFFUL))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: the file meta information holds element (%04x,%04x) at byte %zu, %s",
                       path, group, elem, at, group != 0x0002 ? "not of group 0002" : "a sequence or of undefined length");
  if (n == 0xFFFFFFFFUL) { /* undefined length: a sequence, item or encapsulated pixel data */
    if (group == 0x7FE0 && elem == 0x0010) w->fragments = 1;
    w->pos = at + head;
    return SNT_OK;
  }
  if (n > left - head)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): element (%04x,%04x) at byte %zu declares %lu bytes, %zu remain",
                       path, w->len, group, elem, at, n, left - head);
  if (meta && group == 0x0002 && elem == 0x0000 && n == 4) w->meta_end = at + head + 4 + u32(w, at + head, 0);
  if (meta && group == 0x0002 && elem == 0x0010) {
    snt_status st = set_syntax(path, w, at + head, n, e);
    if (st != SNT_OK) return st;
  }
  w->pos = at + head + (descend ? 0 : n);
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
