# Fails when the DSL error corpus has fewer than MIN cases.
#   cmake -DDIR=/path/to/errors -DMIN=35 -P check_corpus_size.cmake
cmake_minimum_required(VERSION 3.20)
file(GLOB cases "${DIR}/*.nn")
list(LENGTH cases n)
if(n LESS MIN)
  message(FATAL_ERROR "the DSL error corpus in ${DIR} has ${n} cases; it needs at least ${MIN}")
endif()
message(STATUS "${n} cases in the DSL error corpus (at least ${MIN} needed)")
