/* libsinter_mpi.so: the few MPI calls data-parallel training makes (mpi_plugin.h). Errors come
 * back as codes (MPI_ERRORS_RETURN) so the runtime can say what failed before it stops. */
#include "mpi_plugin.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/version.h"

/* MPI counts are int: a long broadcast or gather goes in chunks. */
enum { CHUNK = 1 << 28 };

static int init(int *rank, int *size, int *serialized) {
  /* A rank waiting in MPI yields its core when nothing arrives (unless the user said otherwise):
   * --overlap's sending thread polls while the step computes on the same cores. */
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
  int level = MPI_THREAD_SINGLE;
  int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &level); /* --overlap's thread */
  *serialized = rc == MPI_SUCCESS && level >= MPI_THREAD_SERIALIZED;
  if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, size);
  return rc;
}

static int sum(void *x, int64_t n, MPI_Datatype type, size_t elem) {
  const int64_t bucket = SNT_MPI_BUCKET_BYTES / (int64_t)elem;
  for (int64_t done = 0; done < n; done += bucket) {
    int count = n - done < bucket ? (int)(n - done) : (int)bucket;
    int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)done * elem, count, type, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

static int sum_f32(float *x, int64_t n) { return sum(x, n, MPI_FLOAT, sizeof *x); }
static int sum_f64(double *x, int64_t n) { return sum(x, n, MPI_DOUBLE, sizeof *x); }

static int bcast(void *buf, int64_t bytes) {
  for (int64_t done = 0; done < bytes; done += CHUNK) {
    int count = bytes - done < CHUNK ? (int)(bytes - done) : CHUNK;
    int rc = MPI_Bcast((char *)buf + done, count, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

/* MPI_Allgather in chunks of every rank's bytes: all = rank 0's, rank 1's, ... */
static int gather(const void *mine, int64_t bytes, void *all) {
  int size, rc = MPI_Comm_size(MPI_COMM_WORLD, &size);
  char *chunk = NULL;
  for (int64_t done = 0; rc == MPI_SUCCESS && done < bytes; done += CHUNK) {
    int count = bytes - done < CHUNK ? (int)(bytes - done) : CHUNK;
    if (!chunk && !(chunk = malloc((size_t)count * (size_t)size))) return MPI_ERR_NO_MEM;
    rc = MPI_Allgather((const char *)mine + done, count, MPI_BYTE, chunk, count, MPI_BYTE, MPI_COMM_WORLD);
    for (int r = 0; rc == MPI_SUCCESS && r < size; r++)
      memcpy((char *)all + (size_t)r * (size_t)bytes + (size_t)done, chunk + (size_t)r * (size_t)count, (size_t)count);
  }
  free(chunk);
  return rc;
}

static int finalize(void) { return MPI_Finalize(); }
static void abort_all(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static void error(int code, char *buf, size_t size) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = snprintf(text, sizeof text, "MPI error %d", code);
  snprintf(buf, size, "%.*s", len, text);
}

__attribute__((visibility("default"))) const snt_mpi_plugin *snt_mpi_plugin_v1(void) {
  static const snt_mpi_plugin p = {SINTER_VERSION, init, sum_f32, sum_f64, bcast, gather, finalize, abort_all, error};
  return &p;
}
