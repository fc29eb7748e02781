# Makes protoc's Python output a subpackage of shmpool: every module under STAGE (protoc's
# shmpool/ directory: v1/arena_pb2.py, ...) is copied to the same place under OUT (the
# package's _pb directory) with its imports of shmpool.* modules, and the module names its
# descriptors are built under, rewritten to shmpool._pb.*, so that the generated code imports
# as part of the installed package instead of shadowing it. Every directory of OUT gets an
# __init__.py. Imports of other packages (google.protobuf, grpc) are left as they are.
# Usage: cmake -DSTAGE=DIR -DOUT=DIR -P pb_package.cmake
file(GLOB_RECURSE modules RELATIVE ${STAGE} ${STAGE}/*.py)
file(WRITE ${OUT}/__init__.py
  "# Generated from proto/ by protoc: the messages and stubs of shmpool.control.\n")
foreach(module ${modules})
  file(READ ${STAGE}/${module} text)
  string(REGEX REPLACE "\n(from|import) shmpool\\." "\n\\1 shmpool._pb." text "${text}")
  string(REGEX REPLACE "'shmpool\\.([A-Za-z0-9_.]+_pb2)'" "'shmpool._pb.\\1'" text "${text}")
  file(WRITE ${OUT}/${module} "${text}")
  get_filename_component(dir ${module} DIRECTORY)
  while(dir)
    file(WRITE ${OUT}/${dir}/__init__.py "")
    get_filename_component(dir ${dir} DIRECTORY)
  endwhile()
endforeach()
