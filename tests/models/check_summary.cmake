# Runs `sinter summary MODEL ARGS` and checks that the output ends with exactly
#   FLOPs ...: <FLOPS>
#   Total params: <TOTAL>
#   Trainable params: <TRAINABLE>
#   Non-trainable params: <NON_TRAINABLE>
# and that each layer in LAYERS ("name (Type)") appears in the table.
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${SINTER} summary ${MODEL} ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sinter summary ${MODEL} ${ARGS} exited ${rc}:\n${err}")
endif()
if(NOT err STREQUAL "")
  message(FATAL_ERROR "unexpected stderr:\n${err}")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines n)
math(EXPR i0 "${n} - 4")
list(SUBLIST lines ${i0} 4 tail)
set(want
  "FLOPs (one forward pass, 2 x multiply-adds of conv and dense): ${FLOPS}"
  "Total params: ${TOTAL}"
  "Trainable params: ${TRAINABLE}"
  "Non-trainable params: ${NON_TRAINABLE}")
if(NOT tail STREQUAL want)
  string(REPLACE ";" "\n" tail_s "${tail}")
  string(REPLACE ";" "\n" want_s "${want}")
  message(FATAL_ERROR "summary of ${MODEL} ${ARGS} ends with\n${tail_s}\nwant\n${want_s}")
endif()
foreach(layer IN LISTS LAYERS)
  string(FIND "${out}" " ${layer} " pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "layer '${layer}' is missing from the summary of ${MODEL}")
  endif()
endforeach()
