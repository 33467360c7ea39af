/* snt_dist over libsinter_mpi.so (mpi/mpi_plugin.h), loaded with RTLD_GLOBAL: OpenMPI opens
 * its own components with dlopen and they need libmpi's symbols in the global scope. */
#include "runtime/dist/dist.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/dist/mpi/mpi_plugin.h"
#include "sinter/version.h"

/* Where this build put the plugin and where `cmake --install` puts it; "" when sinter was built
 * without MPI (CMakeLists.txt). */
#ifndef SNT_MPI_PLUGIN_BUILT
#define SNT_MPI_PLUGIN_BUILT ""
#endif
#ifndef SNT_MPI_PLUGIN_INSTALLED
#define SNT_MPI_PLUGIN_INSTALLED ""
#endif

struct snt_dist {
  const snt_mpi_plugin *mpi;
  int rank, size;
};

static int env_int(const char *a, const char *b) {
  const char *v = getenv(a);
  if (!v || !*v) v = getenv(b);
  if (!v || !*v) return 0;
  char *end;
  long n = strtol(v, &end, 10);
  return *end || n < 1 || n > 1 << 20 ? 0 : (int)n;
}

int snt_dist_env_size(void) {
  int n = env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE");
  return n ? n : 1;
}

int snt_dist_env_local_size(void) {
  int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS");
  return n ? n : 1;
}

static snt_status mpi_fail(const snt_dist *d, int rc, const char *what, snt_err *e) {
  char text[256];
  d->mpi->error(rc, text, sizeof text);
  return snt_err_set(e, SNT_ERR_IO, "rank %d of %d: %s failed: %s", d->rank, d->size, what, text);
}

static snt_status load_plugin(int size, const snt_mpi_plugin **out, snt_err *e) {
  const char *env = getenv("SINTER_MPI_PLUGIN");
  const char *cands[2] = {env && *env ? env : SNT_MPI_PLUGIN_BUILT, env && *env ? "" : SNT_MPI_PLUGIN_INSTALLED};
  if (!cands[0][0] && !cands[1][0])
    return snt_err_set(e, SNT_ERR_INPUT,
                "started by mpirun with %d ranks, but this sinter was built without MPI: every rank would train "
                "its own copy. Install libopenmpi-dev, rebuild sinter and recompile the model (or run one process)",
                size);
  char why[600] = "";
  for (int i = 0; i < 2; i++) {
    if (!cands[i][0]) continue;
    void *h = dlopen(cands[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    const char *err = h ? NULL : dlerror();
    void *sym = h ? dlsym(h, SNT_MPI_PLUGIN_SYMBOL) : NULL;
    const snt_mpi_plugin *(*entry)(void) = NULL;
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX allows */
    const snt_mpi_plugin *p = entry ? entry() : NULL;
    if (p && p->version && strcmp(p->version, SINTER_VERSION) == 0) return *out = p, SNT_OK;
    size_t n = strlen(why);
    snprintf(why + n, sizeof why - n, "%s%s: %s", n ? "; " : "", cands[i],
             err ? err : !p ? "not sinter's MPI plugin" : "of another sinter version");
  }
  return snt_err_set(e, SNT_ERR_IO, "started by mpirun with %d ranks, but the MPI plugin libsinter_mpi.so does not load "
                     "(%s); set SINTER_MPI_PLUGIN to its path", size, why);
}

snt_status snt_dist_open(snt_dist **out, snt_err *e) {
  *out = NULL;
  int size = snt_dist_env_size();
  if (size <= 1) return SNT_OK;
  const snt_mpi_plugin *p = NULL;
  snt_status st = load_plugin(size, &p, e);
  if (st != SNT_OK) return st;
  snt_dist *d = calloc(1, sizeof *d);
  if (!d) return snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
  d->mpi = p;
  int rc = p->init(&d->rank, &d->size);
  if (rc) {
    st = mpi_fail(d, rc, "MPI_Init", e);
    free(d);
    return st;
  }
  *out = d;
  return SNT_OK;
}

void snt_dist_close(snt_dist *d) {
  if (!d) return;
  d->mpi->finalize();
  free(d);
}

void snt_dist_abort(snt_dist *d, int code) {
  if (d) d->mpi->abort(code);
}

int snt_dist_rank(const snt_dist *d) { return d ? d->rank : 0; }
int snt_dist_size(const snt_dist *d) { return d ? d->size : 1; }

snt_status snt_dist_sum_f32(snt_dist *d, float *x, int64_t n, snt_err *e) {
  int rc = d ? d->mpi->sum_f32(x, n) : 0;
  return rc ? mpi_fail(d, rc, "MPI_Allreduce", e) : SNT_OK;
}

snt_status snt_dist_sum_f64(snt_dist *d, double *x, int64_t n, snt_err *e) {
  int rc = d ? d->mpi->sum_f64(x, n) : 0;
  return rc ? mpi_fail(d, rc, "MPI_Allreduce", e) : SNT_OK;
}

snt_status snt_dist_bcast(snt_dist *d, void *buf, int64_t bytes, snt_err *e) {
  int rc = d ? d->mpi->bcast(buf, bytes) : 0;
  return rc ? mpi_fail(d, rc, "MPI_Bcast", e) : SNT_OK;
}
