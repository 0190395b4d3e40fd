#pragma once
// std::visit with one lambda per alternative: std::visit(Overload{[](const A&) {...}, ...}, v).

namespace awh::util {

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

}  // namespace awh::util
