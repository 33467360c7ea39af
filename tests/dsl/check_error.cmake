# Checks one case of the DSL error corpus: runs `sinter check` on it and compares the
# diagnostic with the case's `# expect:` line (see README.md for the format).
#
#   cmake -DSINTER=/path/to/sinter -DCASE=/path/to/errors/case.nn -P check_error.cmake
#
# Fails unless sinter exits with exactly 1, prints nothing on stdout, and its first stderr
# line is the expected one; for errors with a location, the next two lines must be the
# source excerpt of that line and a caret under the reported column.
cmake_minimum_required(VERSION 3.20)

foreach(var SINTER CASE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_error.cmake: pass -D${var}=...")
  endif()
endforeach()
if(NOT EXISTS "${CASE}")
  message(FATAL_ERROR "check_error.cmake: no such case: ${CASE}")
endif()

# Line n (1-based) of text, without its newline (and a trailing \r, as sinter strips it).
# Sets <out> and <out>_FOUND. Works on the raw string: lines may hold ';' or brackets,
# which CMake lists would mangle.
function(nth_line text n out)
  set(rest "${text}")
  set(i 1)
  while(i LESS n)
    string(FIND "${rest}" "\n" pos)
    if(pos EQUAL -1)
      set(${out} "" PARENT_SCOPE)
      set(${out}_FOUND FALSE PARENT_SCOPE)
      return()
    endif()
    math(EXPR pos "${pos} + 1")
    string(SUBSTRING "${rest}" ${pos} -1 rest)
    math(EXPR i "${i} + 1")
  endwhile()
  string(FIND "${rest}" "\n" pos)
  if(NOT pos EQUAL -1)
    string(SUBSTRING "${rest}" 0 ${pos} rest)
  endif()
  string(REGEX REPLACE "\r$" "" rest "${rest}")
  set(${out} "${rest}" PARENT_SCOPE)
  set(${out}_FOUND TRUE PARENT_SCOPE)
endfunction()

file(READ "${CASE}" source)
nth_line("${source}" 1 header)
nth_line("${source}" 2 header2)
if(NOT header MATCHES "^# expect: ")
  message(FATAL_ERROR "${CASE}: line 1 must be '# expect: LINE:COL: error: MESSAGE', "
                      "'# expect: error: MESSAGE' or '# expect: sinter: error: MESSAGE'")
endif()
string(REGEX REPLACE "^# expect: " "" expected "${header}")

set(args "")
if(header2 MATCHES "^# args:")
  string(REGEX REPLACE "^# args:[ ]*" "" argline "${header2}")
  separate_arguments(args UNIX_COMMAND "${argline}")
endif()

# The three forms of an expectation.
set(line 0)
set(col 0)
if(expected MATCHES "^([0-9]+):([0-9]+): ")
  set(line "${CMAKE_MATCH_1}")
  set(col "${CMAKE_MATCH_2}")
  set(want "${CASE}:${expected}")          # FILE:LINE:COL: error: MESSAGE
elseif(expected MATCHES "^sinter: ")
  set(want "${expected}")                  # sinter: error: MESSAGE (no file, e.g. a bad --set)
elseif(expected MATCHES "^error: ")
  set(want "${CASE}: ${expected}")         # FILE: error: MESSAGE (the whole file, no line)
else()
  message(FATAL_ERROR "${CASE}: cannot read the expectation '${expected}'")
endif()

execute_process(
  COMMAND "${SINTER}" check "${CASE}" ${args}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

set(problems "")
# A crash shows as a signal name ("Segmentation fault", "Child aborted") instead of a number;
# 2 is sinter's internal-error code. Sanitizer reports may come with exit code 1.
if(NOT "${rc}" STREQUAL "1")
  string(APPEND problems "  exit code: expected 1, got '${rc}'\n")
endif()
if(err MATCHES "(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)")
  string(APPEND problems "  a sanitizer reported an error\n")
endif()
if(NOT "${out}" STREQUAL "")
  string(APPEND problems "  stdout: expected nothing, got:\n${out}\n")
endif()

nth_line("${err}" 1 got)
if(NOT "${got}" STREQUAL "${want}")
  string(APPEND problems "  first stderr line differs\n    expected: ${want}\n    actual:   ${got}\n")
endif()

if(line GREATER 0)
  nth_line("${source}" ${line} src_line)
  nth_line("${err}" 2 excerpt)
  nth_line("${err}" 3 caret)
  if(NOT src_line_FOUND)
    string(APPEND problems "  the expectation names line ${line}, but the case has fewer lines\n")
  elseif(NOT excerpt_FOUND OR NOT caret_FOUND)
    string(APPEND problems "  expected 3 stderr lines (message, source line, caret), got fewer\n")
  else()
    # "%5d | text", as support/diag.c prints it
    set(num "${line}")
    string(LENGTH "${num}" len)
    while(len LESS 5)
      string(PREPEND num " ")
      math(EXPR len "${len} + 1")
    endwhile()
    if(NOT "${excerpt}" STREQUAL "${num} | ${src_line}")
      string(APPEND problems "  stderr line 2 is not source line ${line}\n"
                             "    expected: ${num} | ${src_line}\n    actual:   ${excerpt}\n")
    endif()
    # The caret sits under column COL: 8 characters of margin ("      | "), then one
    # character per column before it (the excerpt stops at the end of the line).
    string(FIND "${caret}" "^" caret_at)
    string(LENGTH "${src_line}" src_len)
    math(EXPR before "${col} - 1")
    if(before GREATER src_len)
      set(before ${src_len})
    endif()
    math(EXPR want_at "8 + ${before}")
    if(caret_at EQUAL -1)
      string(APPEND problems "  stderr line 3 has no caret: '${caret}'\n")
    elseif(NOT caret_at EQUAL want_at)
      string(APPEND problems "  the caret is not under column ${col}: '${caret}'\n")
    endif()
  endif()
endif()

if(NOT problems STREQUAL "")
  message(FATAL_ERROR "sinter check ${CASE} ${argline}\n${problems}--- stderr ---\n${err}--------------")
endif()
message(STATUS "ok: ${want}")
