// placeholder: tests are being written
#include <catch2/catch.hpp>
