# Compiler settings every kiosk target shares: warnings are errors, optional sanitizers.

# kiosk_defaults(<target>): the warning set from STYLE.md, applied per target.
function(kiosk_defaults target)
  # Designated initializers that leave members at their defaults are intended, not a mistake.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)
  # g++ 12 at -O2 reports "literal" + std::string&& as an overlapping memcpy (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  target_compile_definitions(${target} PRIVATE KIOSK_VERSION="${PROJECT_VERSION}")
endfunction()

# Asio is header-only: every translation unit that includes it must see the same configuration,
# or one executable holds Asio compiled two ways (an ODR violation UBSan reports). So the
# deprecated-API switch is set once for the whole project, not per library.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED)

if(KIOSK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Linking the ~30 sanitized test executables with ld.bfd costs twice the CPU of lld (Debian's
# lld package, installed by tools/setup.sh); fall back to the default linker when it is absent.
option(KIOSK_LLD "Link with lld when the compiler accepts -fuse-ld=lld" ON)
if(KIOSK_LLD)
  include(CheckLinkerFlag)
  check_linker_flag(CXX -fuse-ld=lld KIOSK_HAVE_LLD)
  if(KIOSK_HAVE_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endif()
