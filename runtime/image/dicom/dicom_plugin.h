/* The DICOM plugin, libsinter_dicom.so: DCMTK and the C++ library behind one C entry point.
 * Linked into every executable they cost each process start ~10 ms and every link a dozen
 * shared libraries, for a format most runs never see; ../dicom_load.c loads the plugin on the
 * first DICOM file instead. */
#ifndef SNT_IMAGE_DICOM_PLUGIN_H
#define SNT_IMAGE_DICOM_PLUGIN_H

#include "../image_internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one symbol the plugin exports; a change to the table or the structs renames it. */
#define SNT_DICOM_PLUGIN_SYMBOL "snt_dicom_plugin_v1"

typedef struct snt_dicom_plugin {
  const char *version;     /* SINTER_VERSION of the build: a plugin of another version is refused */
  size_t dicom_size;       /* sizeof (snt_image__dicom) and sizeof (snt_err) as the plugin saw them */
  size_t err_size;
  /* snt_image__dicom_read's contract (../image_internal.h), except that the caller frees. */
  snt_status (*read)(const char *path, FILE *f, long long max_pixels, snt_image__dicom *out, snt_err *e);
} snt_dicom_plugin;

const snt_dicom_plugin *snt_dicom_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif
