/* All-reduce cost between the ranks of an MPI job (bench/dist): the median time of
 * MPI_Allreduce (float sum, in place, as training's) for sizes from 4 bytes to 64 MB, in one
 * call and in the buckets training sends (SNT_MPI_BUCKET_BYTES, mpi_plugin.h), and a fit of the
 * ring algorithm's model t = 2 (N - 1) alpha + 2 (N - 1) / N * bytes * beta to the bucketed
 * times: alpha from the 4-byte time, beta the least-squares slope over the sizes from 4 KB;
 * bench/dist projects to more machines from them.
 *   mpirun -np 2 build/bench_dist_allreduce */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/dist/mpi/mpi_plugin.h"

enum { MAX_FLOATS = 16 << 20, BUCKET = SNT_MPI_BUCKET_BYTES / 4, MAX_REPS = 21, MAX_SIZES = 16 };

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void sum(float *buf, long long n, long long bucket) {
  for (long long done = 0; done < n; done += bucket)
    MPI_Allreduce(MPI_IN_PLACE, buf + done, (int)(n - done < bucket ? n - done : bucket), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
}

/* The median of reps timed sums of n floats in buckets, after one untimed (pages, connections). */
static double median_s(float *buf, long long n, long long bucket, int reps) {
  double t[MAX_REPS];
  sum(buf, n, bucket);
  for (int r = 0; r < reps; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    sum(buf, n, bucket);
    t[r] = MPI_Wtime() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  return t[reps / 2];
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  float *buf = calloc(MAX_FLOATS, sizeof(float));
  double xs[MAX_SIZES], ys[MAX_SIZES], tiny = 0; /* tiny: the 4-byte all-reduce, the latency alone */
  int fit = 0;
  if (!buf) MPI_Abort(MPI_COMM_WORLD, 2);
  if (rank == 0) printf("%12s %14s %14s %14s\n", "bytes", "one call us", "buckets us", "GB/s (buckets)");
  for (long long n = 1; n <= MAX_FLOATS; n *= 4) {
    int reps = n >= (1 << 20) ? 7 : MAX_REPS;
    double whole = median_s(buf, n, n, reps), med = median_s(buf, n, BUCKET, reps);
    long long bytes = n * 4;
    if (n == 1) tiny = med;
    if (bytes >= 4096 && fit < MAX_SIZES) xs[fit] = (double)bytes, ys[fit] = med, fit++;
    if (rank == 0) printf("%12lld %14.1f %14.1f %14.2f\n", bytes, whole * 1e6, med * 1e6, (double)bytes / med / 1e9);
  }
  if (rank == 0) {
    double steps = 2.0 * (size - 1), share = 2.0 * (size - 1) / size, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < fit; i++) sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i];
    double slope = (fit * sxy - sx * sy) / (fit * sxx - sx * sx);
    double beta = slope / share, alpha = tiny / steps;
    printf("buckets of %d bytes; fit (ring) to the bucketed times: alpha %.2f us per step, beta %.4f ns per byte "
           "(%.2f GB/s) with %d ranks\n", SNT_MPI_BUCKET_BYTES, alpha * 1e6, beta * 1e9, 1 / beta / 1e9, size);
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
