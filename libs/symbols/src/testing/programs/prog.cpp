#include <cstdio>
#include <cstdlib>

namespace firn {
namespace detail {
template <typename T>
struct Accumulator {
  T value;
  __attribute__((always_inline)) inline T mix(int rounds) const {
    T acc = value;
    for (int i = 0; i < rounds; i++) acc = acc * 31 + static_cast<T>(rand());
    return acc;
  }
};
}  // namespace detail

template <typename T>
__attribute__((noinline)) T work(T x) {
  detail::Accumulator<T> a{x};
  T r = a.mix(8);
  std::printf("%ld\n", static_cast<long>(r));
  return r;
}

template long work<long>(long);
}  // namespace firn

int main(int argc, char**) { return static_cast<int>(firn::work<long>(argc) & 1); }
