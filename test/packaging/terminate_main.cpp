// Throws out of main, so that std::terminate runs the handler the helper links
// (src/util/terminate.cpp); check_terminate.py reads what it prints.
#include <stdexcept>

int main() { throw std::runtime_error("the message of the uncaught exception"); }
