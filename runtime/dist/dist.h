/* Data-parallel runs under mpirun: the ranks of the job and the collectives training needs.
 * A process not started by mpirun, or started as the only rank, gets no context (NULL) and
 * never touches MPI; snt_dist_rank / snt_dist_size then say 0 and 1. */
#ifndef SNT_RT_DIST_H
#define SNT_RT_DIST_H

#include <stdint.h>

#include "sinter/error.h"

typedef struct snt_dist snt_dist;

/* The job's size as mpirun told it in the environment (1 when not started by mpirun). */
int snt_dist_env_size(void);
/* Ranks on this machine (mpirun's local size; 1 when unknown). */
int snt_dist_env_local_size(void);

/* With more than one rank: loads the MPI plugin and initialises MPI into *out. NULL *out and
 * SNT_OK for a single process. Fails (saying why) when this runtime was built without MPI. */
snt_status snt_dist_open(snt_dist **out, snt_err *e);
/* MPI_Finalize and free; d may be NULL. */
void snt_dist_close(snt_dist *d);
/* Ends every rank of the job (after a failure one rank cannot recover from alone). */
void snt_dist_abort(snt_dist *d, int code);

/* A watchdog over the collectives: when one waits longer than `seconds` (a rank died or hangs:
 * OpenMPI waits forever on a stopped process), on_timeout(user, call, waited) runs on the
 * watchdog's thread while the caller is still blocked in MPI; it is expected not to return
 * (the command ends the process, and mpirun the job). seconds <= 0 turns it off. */
typedef void (*snt_dist_timeout_fn)(void *user, const char *call, double waited);
snt_status snt_dist_set_timeout(snt_dist *d, double seconds, snt_dist_timeout_fn on_timeout, void *user, snt_err *e);

int snt_dist_rank(const snt_dist *d);
int snt_dist_size(const snt_dist *d);

/* In-place sums over every rank; no-ops without a context. */
snt_status snt_dist_sum_f32(snt_dist *d, float *x, int64_t n, snt_err *e);
snt_status snt_dist_sum_f64(snt_dist *d, double *x, int64_t n, snt_err *e);
/* Overlap (EXE train --overlap): a thread of this rank's own sums what is posted to it, in
 * order, while the caller goes on; snt_dist_wait returns when all posted sums are done, with the
 * first failure. Every other call first waits for the posted ones, so the ranks' calls stay in
 * one order and MPI is used by one thread at a time (MPI_THREAD_SERIALIZED). Fails, saying so,
 * when this MPI cannot be used from a second thread. */
snt_status snt_dist_start_thread(snt_dist *d, snt_err *e);
snt_status snt_dist_post_sum_f32(snt_dist *d, float *x, int64_t n, snt_err *e);
snt_status snt_dist_wait(snt_dist *d, snt_err *e);
/* Every rank's `bytes` (mine) into all, rank 0's first: all holds bytes x size. */
snt_status snt_dist_gather(snt_dist *d, const void *mine, int64_t bytes, void *all, snt_err *e);
/* Rank 0's bytes into every rank's buf. */
snt_status snt_dist_bcast(snt_dist *d, void *buf, int64_t bytes, snt_err *e);

#endif
