# Compiler settings every kiosk target shares: warnings are errors, optional sanitizers.

# kiosk_defaults(<target>): the warning set from STYLE.md, applied per target.
function(kiosk_defaults target)
  # Designated initializers that leave members at their defaults are intended, not a mistake.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)
  target_compile_definitions(${target} PRIVATE KIOSK_VERSION="${PROJECT_VERSION}")
endfunction()

if(KIOSK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
