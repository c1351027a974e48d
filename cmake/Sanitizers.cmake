# ONNX_REINIT_SANITIZE and ONNX_REINIT_FUZZERS: compile and link everything built here (library,
# tools, tests, harnesses) with the sanitizers. Debian's libonnx, protobuf and absl stay
# uninstrumented shared libraries; the sanitizers see this project's code and its inlined headers.
if(ONNX_REINIT_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ONNX_REINIT_FUZZERS needs clang (libFuzzer): configure with CXX=clang++-14")
  endif()
  if(ONNX_REINIT_SANITIZE STREQUAL "")
    set(ONNX_REINIT_SANITIZE address,undefined)
  elseif(NOT ONNX_REINIT_SANITIZE STREQUAL "address,undefined")
    message(FATAL_ERROR "ONNX_REINIT_FUZZERS builds with address,undefined, not ${ONNX_REINIT_SANITIZE}")
  endif()
  # Coverage instrumentation for libFuzzer; the harnesses link libFuzzer itself (fuzz/).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(NOT ONNX_REINIT_SANITIZE STREQUAL "")
  set(known_sanitizers address undefined address,undefined thread)
  if(NOT ONNX_REINIT_SANITIZE IN_LIST known_sanitizers)
    message(FATAL_ERROR "ONNX_REINIT_SANITIZE=${ONNX_REINIT_SANITIZE}: choose one of ${known_sanitizers}")
  endif()
  add_compile_options(-fsanitize=${ONNX_REINIT_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${ONNX_REINIT_SANITIZE})
  if(ONNX_REINIT_SANITIZE MATCHES "undefined")
    # Undefined behaviour fails the run (a test, a fuzzer) instead of printing and going on.
    add_compile_options(-fno-sanitize-recover=all)
  endif()
endif()
