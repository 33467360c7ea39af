/* A built-in, SYNTHETIC stand-in for the chest X-ray data set: deterministic 8-bit grayscale
 * images of a frontal chest (body, two lung fields, spine, heart, ribs, noise) in the four
 * classes of the Kaggle set. The classes differ only in spatial structure inside the lungs:
 *   COVID            several soft ground-glass blotches at the periphery of both lower lungs
 *   Normal           clear lungs
 *   Viral Pneumonia  fine reticular streaks throughout both lungs
 *   Lung_Opacity     one dense focal consolidation in one lung
 * Every image is then histogram-matched to one fixed target distribution, so its mean and
 * histogram say nothing about its class (random brightness, contrast or gamma would be undone
 * by that matching, so none is drawn).
 *
 * Determinism: each image is a pure function of (seed, class, index, size). Randomness comes
 * from a counter-based hash (splitmix64), never rand() or the clock; the arithmetic is IEEE
 * double +, -, *, / and sqrt only (no libm transcendentals), and values are quantised to
 * integers before the rank-based matching, so the bytes are the same on every machine. */
#ifndef SINTER_COMPILER_SYNTH_H
#define SINTER_COMPILER_SYNTH_H

#include <stdint.h>

#include "sinter/error.h"
#include "sinter/status.h"

enum { SNT_SYNTH_CLASSES = 4, SNT_SYNTH_MIN_SIZE = 32, SNT_SYNTH_MAX_SIZE = 1024 };

/* The class names in label order: COVID, Normal, Viral Pneumonia, Lung_Opacity. */
const char *snt_synth_class_name(int cls);

/* One line saying the images are synthetic and what tells the classes apart. */
const char *snt_synth_description(void);

/* Renders image `index` of class `cls` (0..3) as size x size gray bytes into out (row-major,
 * size * size bytes). size is SNT_SYNTH_MIN_SIZE..SNT_SYNTH_MAX_SIZE. */
snt_status snt_synth_image(uint64_t seed, int cls, int index, int size, uint8_t *out, snt_err *e);

#endif
