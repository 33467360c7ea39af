/* PNG decoding: every colour type and bit depth, palettes with and without tRNS, interlacing.
 * Fixtures are written here with libpng; the expected RGB values are spelled out from the
 * conversion rules in sinter/image.h (TF's decode_png(channels=3)), and must match exactly. */
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

/* What decode_png(channels=3, dtype=uint8) gives for sample value v at bit depth d. */
static int to8(int v, int depth) {
  if (depth == 16) return v >> 8;           /* png_set_strip_16 keeps the high byte */
  return v * 255 / ((1 << depth) - 1);      /* 1-bit 1 -> 255, 2-bit v -> 85 v, 4-bit v -> 17 v */
}

/* The expected interleaved RGB of a fixture. */
static unsigned char *expected_rgb(const fx_png *s) {
  int n = s->width * s->height, ch = fx_png_channels(s->color_type);
  unsigned char *rgb = malloc((size_t)n * 3);
  for (int i = 0; i < n; i++) {
    const uint16_t *v = s->samples + (size_t)i * ch;
    for (int c = 0; c < 3; c++) {
      switch (s->color_type) {
        case PNG_COLOR_TYPE_PALETTE: {
          const png_color *p = &s->palette[v[0]];
          rgb[3 * i + c] = c == 0 ? p->red : c == 1 ? p->green : p->blue;
          break;
        }
        case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_GRAY_ALPHA:
          rgb[3 * i + c] = (unsigned char)to8(v[0], s->depth);  /* replicated; alpha dropped */
          break;
        default:
          rgb[3 * i + c] = (unsigned char)to8(v[c], s->depth);  /* alpha dropped, not composited */
      }
    }
  }
  return rgb;
}

/* Writes the fixture, loads it, and checks size, channels and every value. */
static void check_case(test_state *ts, const char *name, const fx_png *s) {
  char path[512];
  fx_tmp(path, sizeof path, name);
  int wrote = fx_write_png(path, s);
  CHECK_INT(ts, wrote, 0);
  if (wrote != 0) return;
  snt_image img;
  snt_err e = {{0}};
  snt_status st = snt_image_load(path, &img, &e);
  if (st != SNT_OK) fprintf(stderr, "%s: %s\n", name, e.msg);
  CHECK_INT(ts, st, SNT_OK);
  CHECK_INT(ts, img.width, s->width);
  CHECK_INT(ts, img.height, s->height);
  CHECK_INT(ts, img.channels, 3);
  if (st == SNT_OK && img.width == s->width && img.height == s->height) {
    unsigned char *want = expected_rgb(s);
    long at = fx_first_diff_rgb(&img, want);
    if (at >= 0) {
      size_t plane = (size_t)img.width * img.height;
      fprintf(stderr, "%s: pixel %ld channel %ld is %g, want %d\n", name, at / 3, at % 3,
              img.data[(at % 3) * plane + at / 3], want[at]);
    }
    CHECK_INT(ts, at, -1);
    free(want);
  }
  snt_image_free(&img);
  CHECK(ts, img.data == NULL && img.width == 0);
}

/* Samples for a w x h image with ch channels, each value f(x, y, c) masked to the bit depth. */
static uint16_t *pattern(int w, int h, int ch, int depth, unsigned seed) {
  uint16_t *v = malloc(sizeof *v * w * h * ch);
  uint32_t mask = depth == 16 ? 0xffff : (1u << depth) - 1, state = seed * 2654435761u + 1;
  for (int i = 0; i < w * h * ch; i++) {
    state = state * 1664525u + 1013904223u;  /* a fixed LCG: the pattern is the same every run */
    v[i] = (uint16_t)((state >> 8) & mask);
  }
  return v;
}

static void check_gray(test_state *ts) {
  /* 1-bit: odd width, so the last byte of each row is partly padding. */
  uint16_t g1[7 * 3] = {0, 1, 0, 1, 1, 0, 1,  1, 1, 1, 0, 0, 0, 0,  0, 0, 1, 0, 1, 1, 1};
  check_case(ts, "png_gray1.png", &(fx_png){.width = 7, .height = 3, .depth = 1, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g1});
  uint16_t g2[5 * 2] = {0, 1, 2, 3, 1,  3, 2, 1, 0, 2};  /* 0, 85, 170, 255 */
  check_case(ts, "png_gray2.png", &(fx_png){.width = 5, .height = 2, .depth = 2, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g2});
  uint16_t g4[16 + 3];
  for (int i = 0; i < 19; i++) g4[i] = (uint16_t)(i % 16);  /* every 4-bit value: v * 17 */
  check_case(ts, "png_gray4.png", &(fx_png){.width = 19, .height = 1, .depth = 4, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g4});
  uint16_t g8[16 * 16];
  for (int i = 0; i < 256; i++) g8[i] = (uint16_t)i;  /* every 8-bit value, unchanged */
  check_case(ts, "png_gray8.png", &(fx_png){.width = 16, .height = 16, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g8});
  /* 16-bit: the high byte, not round(v * 255 / 65535): 0x00ff gives 0 (rounding would give 1),
   * 0x80ff gives 0x80, 0xffff 255, 0xff00 255, 0x7fff 0x7f (rounding: 127.5 -> 128). */
  uint16_t g16[6] = {0x00ff, 0x80ff, 0xffff, 0xff00, 0x7fff, 0x0100};
  check_case(ts, "png_gray16.png", &(fx_png){.width = 3, .height = 2, .depth = 16, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g16});
  CHECK_INT(ts, to8(0x00ff, 16), 0);
  CHECK_INT(ts, to8(0x7fff, 16), 0x7f);
  /* Gray with a tRNS colour: transparency is dropped, the gray value stays. */
  uint16_t gt[4] = {0, 7, 200, 255};
  png_color_16 tc = {.gray = 7};
  check_case(ts, "png_gray8_trns.png", &(fx_png){.width = 2, .height = 2, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY, .samples = gt, .trans_color = &tc});
  uint16_t *big = pattern(33, 9, 1, 16, 1);
  check_case(ts, "png_gray16_big.png", &(fx_png){.width = 33, .height = 9, .depth = 16, .color_type = PNG_COLOR_TYPE_GRAY, .samples = big});
  free(big);
}

static void check_alpha(test_state *ts) {
  /* Fully transparent pixels keep their colour: no compositing on black or white. */
  uint16_t ga8[4 * 2] = {10, 0,  20, 255,  250, 0,  128, 77};
  check_case(ts, "png_graya8.png", &(fx_png){.width = 2, .height = 2, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .samples = ga8});
  uint16_t *ga16 = pattern(11, 5, 2, 16, 2);
  check_case(ts, "png_graya16.png", &(fx_png){.width = 11, .height = 5, .depth = 16, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .samples = ga16});
  free(ga16);
  uint16_t *rgba8 = pattern(13, 7, 4, 8, 3);
  for (int i = 0; i < 13 * 7; i += 3) rgba8[4 * i + 3] = 0;
  check_case(ts, "png_rgba8.png", &(fx_png){.width = 13, .height = 7, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .samples = rgba8});
  free(rgba8);
  uint16_t *rgba16 = pattern(6, 10, 4, 16, 4);
  check_case(ts, "png_rgba16.png", &(fx_png){.width = 6, .height = 10, .depth = 16, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .samples = rgba16});
  free(rgba16);
}

static void check_rgb(test_state *ts) {
  uint16_t rgb8[2 * 3] = {255, 0, 0,  0, 128, 255};
  check_case(ts, "png_rgb8_tiny.png", &(fx_png){.width = 2, .height = 1, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = rgb8});
  uint16_t *r8 = pattern(17, 12, 3, 8, 5);
  check_case(ts, "png_rgb8.png", &(fx_png){.width = 17, .height = 12, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = r8});
  /* An RGB tRNS colour is dropped too. */
  png_color_16 tc = {.red = r8[0], .green = r8[1], .blue = r8[2]};
  check_case(ts, "png_rgb8_trns.png", &(fx_png){.width = 17, .height = 12, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = r8, .trans_color = &tc});
  free(r8);
  uint16_t r16[2 * 3] = {0x00ff, 0x8000, 0xffff,  0x1234, 0xabcd, 0x0001};
  check_case(ts, "png_rgb16_tiny.png", &(fx_png){.width = 2, .height = 1, .depth = 16, .color_type = PNG_COLOR_TYPE_RGB, .samples = r16});
  uint16_t *rr16 = pattern(9, 14, 3, 16, 6);
  check_case(ts, "png_rgb16.png", &(fx_png){.width = 9, .height = 14, .depth = 16, .color_type = PNG_COLOR_TYPE_RGB, .samples = rr16});
  free(rr16);
  uint16_t one[3] = {1, 2, 3};
  check_case(ts, "png_rgb8_1x1.png", &(fx_png){.width = 1, .height = 1, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = one});
}

static void check_palette(test_state *ts) {
  png_color pal[256];
  for (int i = 0; i < 256; i++) pal[i] = (png_color){(png_byte)i, (png_byte)(255 - i), (png_byte)(i * 7)};
  png_byte alpha[256];
  for (int i = 0; i < 256; i++) alpha[i] = (png_byte)(i * 3);
  uint16_t *idx8 = pattern(15, 6, 1, 8, 7);
  check_case(ts, "png_pal8.png", &(fx_png){.width = 15, .height = 6, .depth = 8, .color_type = PNG_COLOR_TYPE_PALETTE, .samples = idx8, .palette = pal, .npalette = 256});
  /* tRNS: palette alpha (0 for some entries) is dropped; the palette colour is what comes out. */
  check_case(ts, "png_pal8_trns.png", &(fx_png){.width = 15, .height = 6, .depth = 8, .color_type = PNG_COLOR_TYPE_PALETTE, .samples = idx8, .palette = pal, .npalette = 256, .trans_alpha = alpha, .ntrans = 100});
  free(idx8);
  uint16_t *idx4 = pattern(9, 4, 1, 4, 8);
  check_case(ts, "png_pal4_trns.png", &(fx_png){.width = 9, .height = 4, .depth = 4, .color_type = PNG_COLOR_TYPE_PALETTE, .samples = idx4, .palette = pal, .npalette = 16, .trans_alpha = alpha, .ntrans = 5});
  free(idx4);
  uint16_t *idx2 = pattern(7, 3, 1, 2, 9);
  check_case(ts, "png_pal2.png", &(fx_png){.width = 7, .height = 3, .depth = 2, .color_type = PNG_COLOR_TYPE_PALETTE, .samples = idx2, .palette = pal + 100, .npalette = 4});
  free(idx2);
  uint16_t idx1[5] = {1, 0, 0, 1, 1};
  png_color two[2] = {{12, 34, 56}, {200, 150, 100}};
  check_case(ts, "png_pal1.png", &(fx_png){.width = 5, .height = 1, .depth = 1, .color_type = PNG_COLOR_TYPE_PALETTE, .samples = idx1, .palette = two, .npalette = 2});
}

static void check_interlaced(test_state *ts) {
  /* Sizes that leave some Adam7 passes empty or partial. */
  uint16_t *r8 = pattern(13, 11, 3, 8, 10);
  check_case(ts, "png_rgb8_adam7.png", &(fx_png){.width = 13, .height = 11, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .interlace = 1, .samples = r8});
  free(r8);
  uint16_t *g1 = pattern(10, 9, 1, 1, 11);
  check_case(ts, "png_gray1_adam7.png", &(fx_png){.width = 10, .height = 9, .depth = 1, .color_type = PNG_COLOR_TYPE_GRAY, .interlace = 1, .samples = g1});
  free(g1);
  uint16_t *a16 = pattern(5, 3, 4, 16, 12);
  check_case(ts, "png_rgba16_adam7.png", &(fx_png){.width = 5, .height = 3, .depth = 16, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .interlace = 1, .samples = a16});
  free(a16);
  png_color pal[16];
  for (int i = 0; i < 16; i++) pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(i * 3), 9};
  png_byte alpha[3] = {0, 128, 255};
  uint16_t *p4 = pattern(8, 8, 1, 4, 13);
  check_case(ts, "png_pal4_trns_adam7.png", &(fx_png){.width = 8, .height = 8, .depth = 4, .color_type = PNG_COLOR_TYPE_PALETTE, .interlace = 1, .samples = p4, .palette = pal, .npalette = 16, .trans_alpha = alpha, .ntrans = 3});
  free(p4);
  uint16_t one[1] = {3};
  check_case(ts, "png_gray2_adam7_1x1.png", &(fx_png){.width = 1, .height = 1, .depth = 2, .color_type = PNG_COLOR_TYPE_GRAY, .interlace = 1, .samples = one});
}

/* The format comes from the bytes: a PNG named .jpg (or with no extension) still loads. */
static void check_sniffing(test_state *ts) {
  uint16_t g[4] = {1, 2, 3, 4};
  fx_png s = {.width = 2, .height = 2, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY, .samples = g};
  check_case(ts, "png_named.jpg", &s);
  check_case(ts, "png_no_extension", &s);
}

int main(void) {
  test_state ts = {0};
  check_gray(&ts);
  check_alpha(&ts);
  check_rgb(&ts);
  check_palette(&ts);
  check_interlaced(&ts);
  check_sniffing(&ts);
  return test_report("test_image_png", &ts);
}
