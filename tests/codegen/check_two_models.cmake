# Makes an input, runs the two-model program and each model's own executable, and
# requires the same bytes from both.
set(T ${DIR}/run)
file(REMOVE_RECURSE ${T})
file(MAKE_DIRECTORY ${T})
# A 1x3x32x32 float input: a TensorProto written byte by byte (dims, FLOAT, raw_data).
execute_process(COMMAND /usr/bin/python3 -c "
import numpy as np, onnx
from onnx import numpy_helper
x = (np.arange(3 * 32 * 32, dtype=np.float32).reshape(1, 3, 32, 32) * 37 % 256)
open('${T}/input_0.pb', 'wb').write(numpy_helper.from_array(x).SerializeToString())" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not write the input")
endif()
execute_process(COMMAND ${PROG} ${T}/input_0.pb ${T} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "two_models failed (${rc}): ${err}")
endif()
foreach(m simple_cnn deep_cnn)
  execute_process(COMMAND ${DIR}/${m}_exe run ${T}/input_0.pb -o ${T}/${m} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${m}_exe failed (${rc}): ${err}")
  endif()
  execute_process(COMMAND /usr/bin/python3 -c "
import numpy as np, onnx
from onnx import numpy_helper
a = numpy_helper.to_array(onnx.load_tensor('${T}/output_${m}.pb'))
b = numpy_helper.to_array(onnx.load_tensor('${T}/${m}/output_0.pb'))
assert a.shape == b.shape and np.array_equal(a, b) and np.isfinite(a).all() and abs(a.sum() - 1) < 1e-5, (a, b)
print('${m}: the program and the executable agree:', a)" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${m}: outputs differ: ${out}${err}")
  endif()
  message(STATUS "${out}")
endforeach()
