/* The MPI plugin's entry table: libsinter_mpi.so is built against the system's MPI (OpenMPI),
 * and the runtime loads it only when mpirun started the process with more than one rank
 * (dist.c), so plain runs never load or initialise MPI. Every call returns an MPI error code
 * (0 = MPI_SUCCESS); `error` turns one into text. */
#ifndef SNT_MPI_PLUGIN_H
#define SNT_MPI_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define SNT_MPI_PLUGIN_SYMBOL "snt_mpi_plugin_v1"

/* Sums go to MPI_Allreduce in buckets of this many bytes: OpenMPI 4.1's in-place float sum on
 * 2 ranks of one machine takes 7.5 ms for 32 MB but 86 ms for 36 MB and 120 ms for DeepCNN's
 * 53 MB in one call, 7.5 ms as 4 MB buckets (bench/dist_allreduce.c prints both). */
#define SNT_MPI_BUCKET_BYTES (4 << 20)

typedef struct snt_mpi_plugin {
  const char *version; /* SINTER_VERSION of the build */
  int (*init)(int *rank, int *size, int *serialized); /* serialized: MPI_THREAD_SERIALIZED given */
  int (*sum_f32)(float *x, int64_t n);   /* in place, over every rank */
  int (*sum_f64)(double *x, int64_t n);  /* in place, over every rank */
  int (*bcast)(void *buf, int64_t bytes); /* from rank 0 */
  int (*gather)(const void *mine, int64_t bytes, void *all); /* every rank's bytes, in rank order, to all */
  int (*finalize)(void);
  void (*abort)(int code);
  void (*error)(int code, char *buf, size_t size);
} snt_mpi_plugin;

const snt_mpi_plugin *snt_mpi_plugin_v1(void);

#endif
