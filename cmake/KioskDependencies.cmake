# Finds the Debian packages the product builds on; tools/setup.sh installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json)
find_package(OpenSSL REQUIRED)
find_package(PahoMqttCpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(GPIODCXX REQUIRED IMPORTED_TARGET libgpiodcxx)
if(KIOSK_TESTS)
  find_package(Catch2 2.13 REQUIRED)
  include(Catch)
endif()

# Paho's static/shared target name differs between packagings.
if(TARGET PahoMqttCpp::paho-mqttpp3)
  set(KIOSK_PAHO PahoMqttCpp::paho-mqttpp3)
else()
  set(KIOSK_PAHO PahoMqttCpp::paho-mqttpp3-static)
endif()
