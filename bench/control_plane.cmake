# The control plane's benchmark (needs gRPC and shmpoold). Included from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_LIST_DIR}/control_plane.cmake)
# Run: build/<preset>/bench/control_plane_bench [--smoke]
if(SHMPOOL_WITH_GRPC)
  add_executable(control_plane_bench ${CMAKE_CURRENT_LIST_DIR}/control_plane_bench.cc)
  target_link_libraries(control_plane_bench PRIVATE shmpool_client shmpool_proto gRPC::grpc++)
  target_compile_definitions(control_plane_bench PRIVATE SHMPOOLD_PATH="$<TARGET_FILE:shmpoold>")
  add_dependencies(control_plane_bench shmpoold)
endif()
