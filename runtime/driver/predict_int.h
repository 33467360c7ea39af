/* Internal: predict's inputs, folders expanded (predict_dir.c). */
#ifndef SINTER_RUNTIME_PREDICT_INT_H
#define SINTER_RUNTIME_PREDICT_INT_H

/* One input: a file to classify, or (error set) a place that could not be listed, which is
 * reported like an image that failed. */
typedef struct snt_rt_input {
  char *path;
  char *error;
} snt_rt_input;

typedef struct snt_rt_inputs {
  snt_rt_input *v;
  int n, cap;
} snt_rt_inputs;

/* args in order, each folder replaced by the files under it (recursively, sorted by path in
 * byte order; hidden entries and links to folders skipped). 0, or -1 when out of memory. */
int snt_rt_inputs_expand(char *const *args, int n, snt_rt_inputs *out);
void snt_rt_inputs_free(snt_rt_inputs *l);

#endif
