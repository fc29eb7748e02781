# The control plane's benchmark (needs gRPC and shmpoold). Included from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_LIST_DIR}/control_plane.cmake)
# Run: build/<preset>/bench/control_plane_bench [--smoke]
# Attach and GetStats latency at 1, 100 and 1,000 processes attached and allocating:
#   build/<preset>/bench/attach_scale_bench [--attached 1,100,1000] [--probes 50] [--smoke]
if(SHMPOOL_WITH_GRPC)
  add_executable(control_plane_bench ${CMAKE_CURRENT_LIST_DIR}/control_plane_bench.cc)
  target_link_libraries(control_plane_bench PRIVATE shmpool_client shmpool_proto gRPC::grpc++)
  target_include_directories(control_plane_bench PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(control_plane_bench PRIVATE SHMPOOLD_PATH="$<TARGET_FILE:shmpoold>")
  add_dependencies(control_plane_bench shmpoold)
  add_executable(attach_scale_bench ${CMAKE_CURRENT_LIST_DIR}/attach_scale_bench.cc)
  target_link_libraries(attach_scale_bench PRIVATE shmpool_client shmpool_proto gRPC::grpc++)
  target_include_directories(attach_scale_bench PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(attach_scale_bench PRIVATE SHMPOOLD_PATH="$<TARGET_FILE:shmpoold>")
  add_dependencies(attach_scale_bench shmpoold)
endif()
