/* runtime/dist/dist.c compiled as in a sinter built without MPI (no plugin path: this target
 * compiles the file itself, without the definitions CMakeLists.txt gives the runtime's copy).
 * Started "by mpirun" with 2 ranks (the environment mpirun sets), it must refuse with its
 * message rather than let the process train alone; with 1 rank or no mpirun, no context and
 * no error, and the collectives are no-ops. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/dist/dist.h"

int main(void) {
  test_state ts = {0};
  snt_dist *d = (snt_dist *)1;
  snt_err e = {{0}};
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  CHECK_INT(&ts, snt_dist_open(&d, &e), SNT_OK);
  CHECK(&ts, d == NULL);
  CHECK_INT(&ts, snt_dist_env_size(), 1);
  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  CHECK_INT(&ts, snt_dist_open(&d, &e), SNT_OK);
  CHECK(&ts, d == NULL);
  double x[2] = {1.5, 2.5};
  CHECK_INT(&ts, snt_dist_sum_f64(NULL, x, 2, &e), SNT_OK);
  CHECK(&ts, x[0] == 1.5 && x[1] == 2.5 && snt_dist_rank(NULL) == 0 && snt_dist_size(NULL) == 1);
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  CHECK_INT(&ts, snt_dist_open(&d, &e), SNT_ERR_INPUT);
  CHECK(&ts, d == NULL);
  CHECK_STR(&ts, e.msg,
            "started by mpirun with 2 ranks, but this sinter was built without MPI: every rank would train its own "
            "copy. Install libopenmpi-dev, rebuild sinter and recompile the model (or run one process)");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("PMI_SIZE", "4", 1); /* MPICH's launcher */
  CHECK_INT(&ts, snt_dist_open(&d, &e), SNT_ERR_INPUT);
  CHECK(&ts, strstr(e.msg, "with 4 ranks") != NULL);
  return test_report("dist_nompi", &ts);
}
