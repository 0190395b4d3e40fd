// Boost.JSON compiled here, in our own code, instead of linking Debian's libboost_json.a (see
// meson.build): with -ffunction-sections the linker drops what we never call. This is
// Boost.JSON's documented header-only mode.
#include <boost/json/src.hpp>
