# cmake --install: the CLI, the shared library with its headers (the generated .pb.h and version.h
# too) and .proto files, a CMake package (find_package(onnx_reinit CONFIG)), a pkg-config file and
# the man page; python/CMakeLists.txt installs the Python module. cpack -G DEB packs the same.
include(CMakePackageConfigHelpers)

set(ONNX_REINIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/onnx_reinit)
install(TARGETS onnx_reinit EXPORT onnx_reinitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT onnx_reinitTargets NAMESPACE onnx_reinit:: DESTINATION ${ONNX_REINIT_CMAKE_DIR})
install(FILES ${ONNX_REINIT_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnx_reinit)
install(DIRECTORY ${PROJECT_BINARY_DIR}/proto/onnx_reinit/ ${PROJECT_BINARY_DIR}/lib/generated/onnx_reinit/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnx_reinit
        FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/onnx_reinit/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnx_reinit FILES_MATCHING PATTERN "*.proto")
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/onnx_reinitConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/onnx_reinitConfig.cmake INSTALL_DESTINATION ${ONNX_REINIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/onnx_reinitConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/onnx_reinitConfig.cmake ${PROJECT_BINARY_DIR}/onnx_reinitConfigVersion.cmake
        DESTINATION ${ONNX_REINIT_CMAKE_DIR})
configure_file(${PROJECT_SOURCE_DIR}/cmake/onnx_reinit.pc.in ${PROJECT_BINARY_DIR}/onnx_reinit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/onnx_reinit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${PROJECT_SOURCE_DIR}/docs/onnx-reinit.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# One package, onnx-reinit_<version>_amd64.deb, with everything above; its Depends come from the
# shared libraries the binaries link (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME onnx-reinit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Re-initializes the weights of ONNX models (CLI, C++ library, Python module)")
set(CPACK_PACKAGE_CONTACT "onnx-reinit maintainers <onnx-reinit@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The binaries find libonnx_reinit.so in the package itself.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
if(ONNX_REINIT_PYTHON_BUILT)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS ${ONNX_REINIT_PYTHON_DEPENDS})
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-onnx")
endif()
include(CPack)
