#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) int mix(int v) {
  int acc = v;
  for (int i = 0; i < 8; i++) acc = acc * 31 + rand();
  return acc;
}

__attribute__((noinline)) int firn_leaf(int x) {
  int r = mix(x);
  printf("%d\n", r);
  return r;
}

__attribute__((noinline)) int firn_caller(int x) {
  return firn_leaf(x + 1) * 2;
}

int main(int argc, char **argv) {
  (void)argv;
  return firn_caller(argc) & 1;
}
