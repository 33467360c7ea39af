/* The command line of an inference-only executable with an explain model (an ONNX graph): the
 * explain model has its own weights (the inference graph's are folded), or reads them from
 * --weights by the ONNX initializers' names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/explain/explain.h"

/* The inference model's parameters of the same names (built in, or --weights), then the
 * explain model's own values of those that sinter compile's passes changed. */
static int own_weights(void *ctx, const snt_explain_info *x, const char *weights, unsigned char *blob) {
  const snt_model_info *info = ctx, *xm = x->model;
  if (weights && x->n_delta > 0) {
    fprintf(stderr, "%s explain: --weights is not supported here: sinter compile changed %d of the graph's parameters "
                    "(folded a rescale or BatchNorm into a convolution), so a file of the inference model's weights does "
                    "not give the explain model's; compile the ONNX file with the weights instead\n", info->name, x->n_delta);
    return SNT_RT_EXIT_USER;
  }
  void *loaded = NULL;
  if (weights) {
    int rc = snt_rt_load_weights(info, weights, &loaded);
    if (rc) return rc;
  }
  snt_rt_copy_params(info, loaded ? loaded : info->weights, xm, blob);
  free(loaded);
  for (int i = 0; i < x->n_delta; i++)
    for (int k = 0; k < xm->n_params; k++)
      if (strcmp(xm->params[k].name, x->delta[i].name) == 0) memcpy(blob + xm->params[k].offset, x->delta_bytes + x->delta[i].offset, x->delta[i].bytes);
  return 0;
}

int snt_rt_main_explain(int argc, char **argv, const snt_model_info *info, const snt_explain_info *x) {
  if (argc < 2 || strcmp(argv[1], "explain") != 0) {
    snt_rt_explain_src xs = {x, own_weights, (void *)info};
    int rc = snt_rt_main_with(argc, argv, info, x->model ? &xs : NULL);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
      fprintf(argc < 2 ? stderr : stdout, "  explain IMAGE... -o DIR [--class NAME] [--layer NAME] [--max-pixels N]\n"
                                          "                                    Grad-CAM: an overlay PNG and a JSON per image\n");
    return rc;
  }
  snt_rt_common c = {0};
  if (!x->model) {
    fprintf(stderr, "%s explain: this model cannot be explained: %s\n", info->name, x->why ? x->why : "no explain model");
    return SNT_RT_EXIT_USER;
  }
  int rc = snt_xp_cmd(info, x, own_weights, (void *)info, &c, argc - 2, argv + 2);
  return rc < 0 ? 0 : rc; /* -1: --help, which the option parser printed */
}
