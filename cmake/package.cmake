# Installation of the CMake package and the pkg-config module of the client library.
# Included at the end of the top-level CMakeLists.txt, after every target exists; the
# targets themselves are installed by the CMakeLists.txt of their directories (shm/,
# proto/, client/, server/, ctl/) into the export set shmpoolTargets.
#
# Installed layout (prefix-relative, so `cmake --install --prefix P` relocates it):
#   bin/shmpoold, bin/shmpoolctl
#   include/shmpool/{shmpool.h,client.h}      public API
#   include/shmpool/shm/*.h                   the data-plane headers client.h includes
#   lib/libshmpool_{client,shm,proto,api}.a   static archives (client needs the others)
#   lib/libshmpool.so.1 (and libshmpool.so)   the C ABI as a shared library
#   lib/cmake/shmpool/                        find_package(shmpool) -> shmpool::client,
#                                             shmpool::shmpool (shared)
#   lib/pkgconfig/shmpool.pc                  pkg-config --static shmpool
#   lib/pkgconfig/shmpool-shared.pc           pkg-config shmpool-shared
#   lib/shmpool/python/shmpool/               the Python package (python/README.md)
include(CMakePackageConfigHelpers)

set(SHMPOOL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmpool)
install(EXPORT shmpoolTargets
  NAMESPACE shmpool::
  DESTINATION ${SHMPOOL_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shmpoolConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/shmpoolConfig.cmake
  INSTALL_DESTINATION ${SHMPOOL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/shmpoolConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/shmpoolConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/shmpoolConfigVersion.cmake
  DESTINATION ${SHMPOOL_CMAKE_DIR})

# shmpool.pc finds its prefix from its own directory (${pcfiledir}).
set(SHMPOOL_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH SHMPOOL_PC_TO_PREFIX /prefix/${SHMPOOL_PC_DIR} /prefix)
string(REGEX REPLACE "/$" "" SHMPOOL_PC_TO_PREFIX "${SHMPOOL_PC_TO_PREFIX}")
set(SHMPOOL_PC_REQUIRES "absl_status absl_statusor absl_strings absl_str_format absl_synchronization absl_flat_hash_map")
set(SHMPOOL_PC_INTERNAL_LIBS "-lshmpool_shm")
if(SHMPOOL_WITH_GRPC)
  # Static link order: the client needs proto and api, which need shm's and gRPC's symbols.
  set(SHMPOOL_PC_INTERNAL_LIBS "-lshmpool_proto -lshmpool_api -lshmpool_shm")
  set(SHMPOOL_PC_REQUIRES "grpc++ protobuf ${SHMPOOL_PC_REQUIRES}")
endif()
foreach(pc shmpool shmpool-shared)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/cmake/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/cmake/${pc}.pc DESTINATION ${SHMPOOL_PC_DIR})
endforeach()
