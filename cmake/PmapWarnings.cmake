# INTERFACE targets carrying our flags: nothing is set globally.
add_library(pmap_warnings INTERFACE)
target_compile_options(pmap_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${PMAP_WERROR}>:-Werror>)

add_library(pmap_sanitizers INTERFACE)
if(PMAP_SANITIZE)
  target_compile_options(pmap_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(pmap_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
