# Finds every dependency; a missing one stops the configure step with the name of
# the Debian package that provides it (scripts/install-deps.sh installs them all).

macro(snt_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "sinter needs ${what}: install the Debian package '${package}' "
                        "(apt-get install --no-install-recommends ${package}), or run scripts/install-deps.sh")
  endif()
endmacro()

find_package(FLEX QUIET)
snt_require(FLEX_FOUND "flex" "flex")
find_package(BISON 3.6 QUIET)
snt_require(BISON_FOUND "bison >= 3.6" "bison")

find_package(PkgConfig QUIET)
snt_require(PKG_CONFIG_FOUND "pkg-config" "pkg-config")
pkg_check_modules(PROTOBUF_C QUIET IMPORTED_TARGET libprotobuf-c)
snt_require(PROTOBUF_C_FOUND "the protobuf-c library" "libprotobuf-c-dev")
find_program(PROTOC_C_EXECUTABLE NAMES protoc-c protoc-gen-c)
snt_require(PROTOC_C_EXECUTABLE "the protoc-c compiler" "protobuf-c-compiler")

find_path(ONNX_PROTO_DIR onnx/onnx.proto PATHS /usr/include /usr/local/include)
snt_require(ONNX_PROTO_DIR "the ONNX schema onnx/onnx.proto" "libonnx-dev")
set(ONNX_PROTO_FILE onnx/onnx.proto)

find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  snt_require(FALSE "OpenBLAS (cblas.h, libopenblas)" "libopenblas-dev")
endif()

find_package(PNG QUIET)
snt_require(PNG_FOUND "libpng" "libpng-dev")
find_package(JPEG QUIET)
snt_require(JPEG_FOUND "libjpeg" "libjpeg-dev")

# EXE serve's HTTP server.
pkg_check_modules(MICROHTTPD QUIET IMPORTED_TARGET libmicrohttpd)
snt_require(MICROHTTPD_FOUND "libmicrohttpd" "libmicrohttpd-dev")

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

# DCMTK for DICOM input (the plugin runtime/image/dicom/): dcmdata with its RLE decoder, the JPEG
# and JPEG-LS decoders, and their logging and support libraries.
find_path(DCMTK_INCLUDE_DIR dcmtk/dcmdata/dcfilefo.h)
set(SNT_DCMTK_LIBRARIES "")
foreach(lib dcmjpls dcmjpeg dcmdata oflog ofstd)
  find_library(SNT_DCMTK_${lib} NAMES ${lib})
  if(NOT SNT_DCMTK_${lib} OR NOT DCMTK_INCLUDE_DIR)
    snt_require(FALSE "DCMTK (dcmtk/dcmdata/dcfilefo.h, lib${lib})" "libdcmtk-dev")
  endif()
  list(APPEND SNT_DCMTK_LIBRARIES ${SNT_DCMTK_${lib}})
endforeach()
