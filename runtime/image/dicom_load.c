/* snt_image__dicom_read through the DICOM plugin (dicom/dicom_plugin.h), loaded on the first
 * DICOM file. The dynamic loader keeps it (RTLD_NODELETE), so later files only look it up
 * again: no state of ours outlives a call. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/dicom_plugin.h"
#include "sinter/version.h"

/* Where this build put the plugin and where `cmake --install` puts it (CMakeLists.txt). */
#ifndef SNT_DICOM_PLUGIN_BUILT
#define SNT_DICOM_PLUGIN_BUILT ""
#endif
#ifndef SNT_DICOM_PLUGIN_INSTALLED
#define SNT_DICOM_PLUGIN_INSTALLED ""
#endif

static snt_status plugin_check(const char *path, const char *so, const snt_dicom_plugin *p, snt_err *e) {
  if (!p || !p->version || !p->read)
    return snt_err_set(e, SNT_ERR_IO, "%s: %s is not sinter's DICOM plugin (no %s entry table)", path, so,
                       SNT_DICOM_PLUGIN_SYMBOL);
  if (strcmp(p->version, SINTER_VERSION) || p->dicom_size != sizeof(snt_image__dicom) || p->err_size != sizeof(snt_err))
    return snt_err_set(e, SNT_ERR_IO, "%s: the DICOM plugin %s is of sinter %s, this program of sinter %s: rebuild or reinstall",
                       path, so, p->version, SINTER_VERSION);
  return SNT_OK;
}

/* Opens the first plugin that loads: $SINTER_DICOM_PLUGIN when set (and then only it), else
 * the build's, else the installed one. */
static void *plugin_open(const char *path, const char **so, snt_err *e) {
  const char *env = getenv("SINTER_DICOM_PLUGIN");
  int from_env = env && env[0];
  const char *cands[2] = {from_env ? env : SNT_DICOM_PLUGIN_BUILT, from_env ? "" : SNT_DICOM_PLUGIN_INSTALLED};
  char why[512] = "";
  for (int i = 0; i < 2; i++) {
    if (!cands[i][0]) continue;
    void *h = dlopen(cands[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h) return *so = cands[i], h;
    const char *err = dlerror();
    size_t n = strlen(why);
    snprintf(why + n, sizeof why - n, "%s%s", n ? "; " : "", err ? err : cands[i]);
  }
  snt_err_set(e, SNT_ERR_IO, "%s: cannot load the DICOM decoder libsinter_dicom.so (%s); set SINTER_DICOM_PLUGIN to its path",
              path, why[0] ? why : "no path was configured");
  return NULL;
}

/* Defined when a program links the decoder in (the DICOM fuzz target); else the plugin. */
extern const snt_dicom_plugin *snt_dicom_plugin_v1(void) __attribute__((weak));

snt_status snt_image__dicom_read(const char *path, FILE *f, long long max_pixels, snt_image__dicom *out, snt_err *e) {
  memset(out, 0, sizeof *out);
  const char *so = "the linked-in decoder";
  void *h = NULL;
  const snt_dicom_plugin *(*entry)(void) = snt_dicom_plugin_v1;
  if (!entry) {
    if (!(h = plugin_open(path, &so, e))) return SNT_ERR_IO;
    void *sym = dlsym(h, SNT_DICOM_PLUGIN_SYMBOL);
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX allows */
  }
  const snt_dicom_plugin *p = entry ? entry() : NULL;
  snt_status st = plugin_check(path, so, p, e);
  if (st == SNT_OK) st = p->read(path, f, max_pixels, out, e);
  if (st != SNT_OK) snt_image__dicom_free(out);
  if (h) dlclose(h);
  return st;
}

void snt_image__dicom_free(snt_image__dicom *d) {
  if (!d) return;
  free(d->lut);
  free(d->values);
  memset(d, 0, sizeof *d);
}
