# A DSL model sinter cannot train yet (abs has no gradient rule) still compiles for
# inference, with a warning that names the layer; its `train` says why it is not there.
# usage: cmake -DSINTER=... -DWORK=... -P check_untrainable.cmake
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/gm.nn "model gm(size = 32) {
  input image: [3, size, size]
  labels \"a\", \"b\"
  x = conv2d(image, 8, 3, padding = same, activation = relu)
  x = global_avg_pool(abs(x))
  output probs = dense(x, 2, activation = softmax)
}
")
execute_process(COMMAND ${SINTER} compile ${WORK}/gm.nn -o ${WORK}/gm RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compile failed (${rc}): ${err}")
endif()
string(FIND "${err}" "gm.nn:5:23: warning: abs 'abs': cannot be trained yet: op 'abs' has no gradient rule; the executable will predict but not train" at)
if(at LESS 0)
  message(FATAL_ERROR "no warning naming the layer; stderr was:\n${err}")
endif()
execute_process(COMMAND ${WORK}/gm train --data ${WORK} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "^gm: 'train' is not available: this executable was compiled for inference only")
  message(FATAL_ERROR "train: exit ${rc}, stderr:\n${err}")
endif()
execute_process(COMMAND ${SINTER} compile ${WORK}/gm.nn --no-train -o ${WORK}/gm2 RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "--no-train: exit ${rc}, stderr:\n${err}")
endif()
message(STATUS "untrainable model: compiled with the warning, train refused, --no-train quiet")
